import type { ImapSession } from './session.js';

/** Extensions every state advertises (RFC 3501 7.2.1 lets a server vary the list by state). */
const BASE = [
  'IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UNSELECT', 'UIDPLUS', 'MOVE',
  'CHILDREN', 'SPECIAL-USE', 'LIST-EXTENDED', 'LIST-STATUS', 'STATUS=SIZE', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES',
  'QUOTA', 'QUOTA=RES-STORAGE', 'UTF8=ACCEPT', 'MULTIAPPEND', 'BINARY', 'CREATE-SPECIAL-USE', 'WITHIN', 'PREVIEW', 'OBJECTID',
  'SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES',
  'SAVEDATE',
];

export function capabilityList(s: ImapSession): string {
  const caps = [...BASE, `APPENDLIMIT=${s.maxMessageSize()}`];
  if (s.state === 'notauth') {
    if (!s.conn.secure && !s.shared.implicitTls) caps.push('STARTTLS');
    if (s.loginAllowed()) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
    else caps.push('LOGINDISABLED');
  } else if (!s.conn.compressed) {
    caps.push('COMPRESS=DEFLATE');
  }
  return caps.join(' ');
}
