import net, { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Which peers may send a PROXY header (the load balancers): IPs or CIDRs. */
export interface ProxyPolicy {
  trusted: string[];
}

const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
/** v1 lines are at most 107 bytes; v2 headers carry at most 216 address bytes in practice (TLVs allowed up to this). */
const MAX_HEADER = 16 + 1024;
const HEADER_TIMEOUT_MS = 10_000;

/** Where the client really is, as the PROXY header said; set on the accepted socket. */
const CLIENT = Symbol('proxy-protocol client');
interface Peer {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}
type Proxied = net.Socket & { [CLIENT]?: Peer; _parent?: Proxied; _getpeername(): Partial<Peer> };

export type ProxyHeader = { kind: 'proxy'; client: Peer } | { kind: 'local' } | { kind: 'incomplete' } | { kind: 'invalid'; reason: string };

/** Parses a PROXY protocol v1 or v2 header at the start of `buf`; `length` is how many bytes it took. */
export function parseProxyHeader(buf: Buffer): ProxyHeader & { length?: number } {
  if (buf.length >= 1 && buf[0] === 0x0d) {
    if (buf.length < 16) return V2_SIGNATURE.subarray(0, buf.length).equals(buf) ? { kind: 'incomplete' } : { kind: 'invalid', reason: 'bad v2 signature' };
    if (!buf.subarray(0, 12).equals(V2_SIGNATURE)) return { kind: 'invalid', reason: 'bad v2 signature' };
    const verCmd = buf[12]!;
    const fam = buf[13]!;
    const len = buf.readUInt16BE(14);
    if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: 'unsupported version' };
    if (16 + len > MAX_HEADER) return { kind: 'invalid', reason: 'header too long' };
    if (buf.length < 16 + len) return { kind: 'incomplete' };
    const length = 16 + len;
    const cmd = verCmd & 0x0f;
    if (cmd === 0) return { kind: 'local', length }; // the balancer's own health check
    if (cmd !== 1) return { kind: 'invalid', reason: 'unknown command' };
    const body = buf.subarray(16, length);
    if (fam === 0x11 && len >= 12) {
      return { kind: 'proxy', length, client: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8), family: 'IPv4' } };
    }
    if (fam === 0x21 && len >= 36) {
      const groups = Array.from({ length: 8 }, (_, i) => body.readUInt16BE(i * 2).toString(16));
      return { kind: 'proxy', length, client: { address: new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1), port: body.readUInt16BE(32), family: 'IPv6' } };
    }
    if ((fam & 0xf0) === 0) return { kind: 'local', length }; // AF_UNSPEC: keep the connection's own address
    return { kind: 'invalid', reason: 'unsupported address family' };
  }
  const prefix = 'PROXY ';
  const head = buf.subarray(0, Math.min(buf.length, prefix.length)).toString('latin1');
  if (!prefix.startsWith(head)) return { kind: 'invalid', reason: 'no PROXY header' };
  const end = buf.indexOf('\r\n');
  if (end < 0) return buf.length >= 107 ? { kind: 'invalid', reason: 'v1 line too long' } : { kind: 'incomplete' };
  if (end + 2 > 107) return { kind: 'invalid', reason: 'v1 line too long' };
  const parts = buf.subarray(0, end).toString('latin1').split(' ');
  const length = end + 2;
  if (parts[1] === 'UNKNOWN') return { kind: 'local', length };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return { kind: 'invalid', reason: 'bad v1 line' };
  const [, proto, src, , sport] = parts as [string, string, string, string, string, string];
  const port = Number(sport);
  const ok = proto === 'TCP4' ? isIPv4(src) : isIPv6(src);
  if (!ok || !Number.isInteger(port) || port < 0 || port > 65535) return { kind: 'invalid', reason: 'bad v1 address' };
  return { kind: 'proxy', length, client: { address: src, port, family: proto === 'TCP4' ? 'IPv4' : 'IPv6' } };
}

export function trustedList(policy: ProxyPolicy): BlockList {
  const list = new BlockList();
  for (const entry of policy.trusted) {
    const [addr, bits] = entry.split('/');
    const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
    if (!isIPv4(addr!) && !isIPv6(addr!)) throw new Error(`proxyProtocol.trusted: not an IP address or CIDR: ${entry}`);
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

function isTrusted(list: BlockList, raw: string | undefined): boolean {
  if (!raw) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  const addr = mapped ? mapped[1]! : raw;
  return list.check(addr, isIPv6(addr) ? 'ipv6' : 'ipv4');
}

let patched = false;
/**
 * Every front end reads `socket.remoteAddress` (and TLS sockets, made over the accepted socket
 * by tls.Server, smtp-server or STARTTLS, ask their own handle). One patch of Socket's peer
 * lookup makes them all see the address the PROXY header gave, for the accepted socket and for
 * any TLS socket wrapped around it, without a change in each front end.
 */
function patchPeerLookup(): void {
  if (patched) return;
  patched = true;
  const proto = net.Socket.prototype as unknown as Proxied;
  const original = proto._getpeername;
  proto._getpeername = function (this: Proxied) {
    return this[CLIENT] ?? this._parent?.[CLIENT] ?? original.call(this);
  };
}

/**
 * PROXY protocol v1/v2 on a listener (any net.Server: plain, TLS, HTTPS, smtp-server's). A
 * connection from a trusted address must start with a PROXY header (v1 or v2; LOCAL and UNKNOWN
 * keep the balancer's own address, for its health checks); one from anywhere else is served as a
 * direct client and a header it sends is not believed (it is protocol garbage to the front end).
 * Installed before listen(): it takes the place of the server's own connection handlers and
 * calls them once the header is read.
 */
export function acceptProxyProtocol(server: net.Server, policy: ProxyPolicy | undefined, onInvalid?: (peer: string, reason: string) => void): void {
  if (!policy || policy.trusted.length === 0) return;
  patchPeerLookup();
  const trusted = trustedList(policy);
  const handlers = server.listeners('connection') as Array<(s: net.Socket) => void>;
  server.removeAllListeners('connection');
  const hand = (socket: net.Socket) => {
    for (const h of handlers) h.call(server, socket);
  };
  server.on('connection', (socket: Proxied) => {
    if (!isTrusted(trusted, socket.remoteAddress)) return hand(socket);
    let buf: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => fail('no PROXY header in time'), HEADER_TIMEOUT_MS);
    timer.unref();
    const fail = (reason: string) => {
      clearTimeout(timer);
      socket.off('data', onData);
      onInvalid?.(socket.remoteAddress ?? '?', reason);
      socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      const h = parseProxyHeader(buf);
      if (h.kind === 'incomplete') return;
      if (h.kind === 'invalid') return fail(h.reason);
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      if (h.kind === 'proxy') socket[CLIENT] = h.client;
      const rest = buf.subarray(h.length);
      if (rest.length) socket.unshift(rest);
      // back to "no mode chosen", as a fresh socket is: the front end's 'data' listener starts the flow
      (socket as unknown as { _readableState: { flowing: boolean | null } })._readableState.flowing = null;
      hand(socket);
    };
    const onError = () => socket.destroy();
    socket.on('error', onError);
    socket.on('data', onData);
  });
}
