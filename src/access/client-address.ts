import { isIPv4, isIPv6 } from 'node:net';

/**
 * The one spelling of a client's address that every front end, the brute-force guard, the
 * per-IP limits and the session list use, so that a dual-stack listener counts a client once:
 * an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a `::` listener reports for an IPv4
 * client) becomes the IPv4 address, and any other IPv6 address takes its RFC 5952 form
 * (lower case, zeros compressed), so `2001:DB8:0:0::1` and `2001:db8::1` are one client.
 */
export function normaliseClientAddress(raw: string | null | undefined): string {
  if (!raw) return 'unknown';
  const address = raw.trim();
  if (isIPv4(address)) return address;
  const zoneAt = address.indexOf('%');
  const base = zoneAt < 0 ? address : address.slice(0, zoneAt);
  if (!isIPv6(base)) return address;
  // the WHATWG URL serialiser writes IPv6 hosts in the RFC 5952 canonical form
  const canonical = new URL(`http://[${base}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return zoneAt < 0 ? canonical : `${canonical}${address.slice(zoneAt)}`;
}
