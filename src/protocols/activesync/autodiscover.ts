/**
 * Mobile Autodiscover (MS-ASCMD 2.2.1.1): a phone that asks for the mobilesync response schema
 * gets the ActiveSync URL of this server (Server Type MobileSync). The route, the logon and the
 * errors are the shared ones (src/protocols/shared/autodiscover.ts).
 */
import { esc } from '../shared/xml.js';
import { MOBILESYNC_SCHEMA, type AutodiscoverProvider } from '../shared/autodiscover.js';
import { EAS_PATH } from './request.js';

export const EAS_AUTODISCOVER: AutodiscoverProvider = {
  schema: MOBILESYNC_SCHEMA,
  kind: 'eas',
  errorNs: MOBILESYNC_SCHEMA,
  async answer(_ctx, { user, origin }) {
    const url = esc(`${origin}${EAS_PATH}`);
    return `<Response xmlns="${MOBILESYNC_SCHEMA}"><Culture>en:us</Culture>`
      + `<User><DisplayName>${esc(user.displayName || user.address)}</DisplayName><EMailAddress>${esc(user.address)}</EMailAddress></User>`
      + `<Action><Settings><Server><Type>MobileSync</Type><Url>${url}</Url><Name>${url}</Name></Server></Settings></Action></Response>`;
  },
};
