/**
 * POX Autodiscover ([MS-OXDSCLI]): for the signed-in user's own address, the EWS URL (EXCH and
 * EXPR protocol entries, as Outlook and the EWS Managed API read them); any other address is
 * the documented "not found" error (no lookups of other users).
 */
import type { User } from '../../store/types.js';
import { parseXml } from './xml.js';
import { esc } from './xml.js';

const RESPONSE_NS = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';
const OUTLOOK_NS = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';

/** Outlook's ServerVersion: 0111, then major (6 bits), minor (6 bits), 1, build (15 bits), as hex. */
function serverVersionHex(v: { major: number; minor: number; majorBuild: number }): string {
  return ((0x7 << 28) | (v.major << 22) | (v.minor << 16) | 0x8000 | v.majorBuild).toString(16).toUpperCase().padStart(8, '0');
}

function requestedAddress(body: string): string | null {
  try {
    const root = parseXml(body);
    const request = root.children.find((c) => c.name === 'Request');
    return request?.children.find((c) => c.name === 'EMailAddress')?.text.trim() ?? null;
  } catch {
    return null;
  }
}

export function autodiscoverResponse(body: string, user: User, origin: string, serverName: string, version: { major: number; minor: number; majorBuild: number }): string {
  const asked = requestedAddress(body);
  const head = '<?xml version="1.0" encoding="utf-8"?>';
  if (asked === null) {
    return `${head}<Autodiscover xmlns="${RESPONSE_NS}"><Response><Error Time="${new Date().toISOString()}" Id="1"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message><DebugData/></Error></Response></Autodiscover>`;
  }
  if (asked.toLowerCase() !== user.address.toLowerCase()) {
    return `${head}<Autodiscover xmlns="${RESPONSE_NS}"><Response><Error Time="${new Date().toISOString()}" Id="2"><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message><DebugData/></Error></Response></Autodiscover>`;
  }
  const ews = `${origin}/EWS/Exchange.asmx`;
  const host = origin.replace(/^https:\/\//, '').replace(/:\d+$/, '');
  return `${head}<Autodiscover xmlns="${RESPONSE_NS}"><Response xmlns="${OUTLOOK_NS}">`
    + `<User><DisplayName>${esc(user.displayName || user.address)}</DisplayName><LegacyDN>${esc(user.dn)}</LegacyDN><AutoDiscoverSMTPAddress>${esc(user.address)}</AutoDiscoverSMTPAddress></User>`
    + '<Account><AccountType>email</AccountType><Action>settings</Action>'
    + `<Protocol><Type>EXCH</Type><Server>${esc(serverName)}</Server><ServerVersion>${serverVersionHex(version)}</ServerVersion><ASUrl>${esc(ews)}</ASUrl><EwsUrl>${esc(ews)}</EwsUrl><EcpUrl>${esc(origin)}/owa/</EcpUrl></Protocol>`
    + `<Protocol><Type>EXPR</Type><Server>${esc(host)}</Server><SSL>On</SSL><AuthPackage>Basic</AuthPackage><ASUrl>${esc(ews)}</ASUrl><EwsUrl>${esc(ews)}</EwsUrl></Protocol>`
    + '</Account></Response></Autodiscover>';
}
