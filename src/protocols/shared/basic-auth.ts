/** HTTP Basic authentication (RFC 7617) as the Exchange front ends read it. */

/** The Basic credentials of an Authorization header; null when there are none or they are malformed. */
export function basicCredentials(authorization: string | undefined): { identity: string; password: string } | null {
  if (!authorization || !/^basic /i.test(authorization)) return null;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  // DOMAIN\user is how many phones send it: the part after the backslash is the user
  const identity = decoded.slice(0, colon).replace(/^[^\\]*\\/, '');
  return { identity, password: decoded.slice(colon + 1) };
}
