/**
 * POX Autodiscover ([MS-OXDSCLI]), Outlook's response schema: the EWS URL (EXCH and EXPR protocol
 * entries, as Outlook and the EWS Managed API read them). The route, the logon and the errors are
 * the shared ones (src/protocols/shared/autodiscover.ts); this is what EWS answers there.
 */
import { esc } from './xml.js';
import { OUTLOOK_SCHEMA, AUTODISCOVER_RESPONSE_NS, type AutodiscoverProvider } from '../shared/autodiscover.js';
import { SERVER_VERSION } from './soap.js';

/** Outlook's ServerVersion: 0111, then major (6 bits), minor (6 bits), 1, build (15 bits), as hex. */
function serverVersionHex(v: { major: number; minor: number; majorBuild: number }): string {
  return ((0x7 << 28) | (v.major << 22) | (v.minor << 16) | 0x8000 | v.majorBuild).toString(16).toUpperCase().padStart(8, '0');
}

export const EWS_AUTODISCOVER: AutodiscoverProvider = {
  schema: OUTLOOK_SCHEMA,
  kind: 'ews',
  errorNs: AUTODISCOVER_RESPONSE_NS,
  async answer(ctx, { user, origin }) {
    const { serverName } = await ctx.store.organisation();
    const ews = `${origin}/EWS/Exchange.asmx`;
    const host = origin.replace(/^https:\/\//, '').replace(/:\d+$/, '');
    return `<Response xmlns="${OUTLOOK_SCHEMA}">`
      + `<User><DisplayName>${esc(user.displayName || user.address)}</DisplayName><LegacyDN>${esc(user.dn)}</LegacyDN><AutoDiscoverSMTPAddress>${esc(user.address)}</AutoDiscoverSMTPAddress></User>`
      + '<Account><AccountType>email</AccountType><Action>settings</Action>'
      + `<Protocol><Type>EXCH</Type><Server>${esc(serverName)}</Server><ServerVersion>${serverVersionHex(SERVER_VERSION)}</ServerVersion><ASUrl>${esc(ews)}</ASUrl><EwsUrl>${esc(ews)}</EwsUrl><EcpUrl>${esc(origin)}/owa/</EcpUrl></Protocol>`
      + `<Protocol><Type>EXPR</Type><Server>${esc(host)}</Server><SSL>On</SSL><AuthPackage>Basic</AuthPackage><ASUrl>${esc(ews)}</ASUrl><EwsUrl>${esc(ews)}</EwsUrl></Protocol>`
      + '</Account></Response>';
  },
};
