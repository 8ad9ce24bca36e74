/**
 * A tiny TCP load balancer for tests: round robin over backends, each connection opened from
 * 127.0.0.2 (the address the nodes trust) and started with a PROXY header, v1 or v2, that names
 * the client as `claimedClient` (a documentation address, so the test can see it arrive).
 */
import net from 'node:net';

export interface Balancer {
  port: number;
  close(): Promise<void>;
}

export function proxyV1(src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  return Buffer.from(`PROXY ${net.isIPv6(src) ? 'TCP6' : 'TCP4'} ${src} ${dst} ${srcPort} ${dstPort}\r\n`, 'latin1');
}

export function proxyV2(src: string, srcPort: number, dst: string, dstPort: number): Buffer {
  const sig = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  const v4 = net.isIPv4(src);
  const addr = Buffer.alloc(v4 ? 12 : 36);
  if (v4) {
    src.split('.').forEach((o, i) => addr.writeUInt8(Number(o), i));
    dst.split('.').forEach((o, i) => addr.writeUInt8(Number(o), 4 + i));
    addr.writeUInt16BE(srcPort, 8);
    addr.writeUInt16BE(dstPort, 10);
  } else throw new Error('the test balancer writes IPv4 v2 headers only');
  return Buffer.concat([sig, Buffer.from([0x21, 0x11, 0, addr.length]), addr]);
}

export async function startBalancer(backends: number[], opts: { version: 1 | 2; claimedClient: string }): Promise<Balancer> {
  let next = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const port = backends[next++ % backends.length]!;
    const upstream = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    open.add(client).add(upstream);
    const header = opts.version === 1 ? proxyV1(opts.claimedClient, client.remotePort ?? 0, '127.0.0.1', port) : proxyV2(opts.claimedClient, client.remotePort ?? 0, '127.0.0.1', port);
    upstream.write(header);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((res) => {
      for (const s of open) s.destroy();
      server.close(() => res());
    }),
  };
}
