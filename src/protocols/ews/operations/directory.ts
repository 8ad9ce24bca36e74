/** ResolveNames (the local users) and ConvertId (our ids are the same in every EWS format). */
import type { Operation } from '../call.js';
import { EwsError } from '../call.js';
import { errorMessage, okMessage, responseMessages, perObject } from '../responses.js';
import { children, childText, child, esc, xsBool } from '../xml.js';

export const resolveNames: Operation = async (call, op) => {
  const entry = (childText(op, 'UnresolvedEntry') ?? '').replace(/^(smtp|sip):/i, '').trim().toLowerCase();
  if (!entry) return responseMessages([errorMessage('ResolveNames', 'ErrorNameResolutionNoResults', 'No results were found.')]);
  const users = (await call.ctx.store.listUsers()).filter((u) =>
    u.address.toLowerCase().startsWith(entry) || u.alias.toLowerCase().startsWith(entry) || u.displayName.toLowerCase().split(/\s+/).some((w) => w.startsWith(entry)));
  if (!users.length) return responseMessages([errorMessage('ResolveNames', 'ErrorNameResolutionNoResults', 'No results were found.')]);
  const full = xsBool(op.attrs['ReturnFullContactData']);
  const resolutions = users.slice(0, 100).map((u) => `<t:Resolution><t:Mailbox><t:Name>${esc(u.displayName || u.address)}</t:Name><t:EmailAddress>${esc(u.address)}</t:EmailAddress>`
    + `<t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>`
    + (full ? `<t:Contact><t:DisplayName>${esc(u.displayName || u.address)}</t:DisplayName><t:EmailAddresses><t:Entry Key="EmailAddress1">SMTP:${esc(u.address)}</t:Entry></t:EmailAddresses><t:ContactSource>ActiveDirectory</t:ContactSource></t:Contact>` : '')
    + '</t:Resolution>');
  return responseMessages([okMessage('ResolveNames',
    `<m:ResolutionSet TotalItemsInView="${users.length}" IncludesLastItemInRange="${users.length <= 100}">${resolutions.join('')}</m:ResolutionSet>`)]);
};

const FORMATS = ['EwsId', 'EwsLegacyId', 'OwaId', 'EntryId', 'HexEntryId', 'StoreId'] as const;
type Format = (typeof FORMATS)[number];

/** Our ids are already opaque and URL-safe: EWS, legacy EWS and OWA ids are the id itself; entry ids are its bytes. */
function decode(id: string, format: Format): string {
  if (format === 'EntryId' || format === 'StoreId') return Buffer.from(id, 'base64').toString('latin1');
  if (format === 'HexEntryId') return Buffer.from(id, 'hex').toString('latin1');
  return id;
}
function encode(id: string, format: Format): string {
  if (format === 'EntryId' || format === 'StoreId') return Buffer.from(id, 'latin1').toString('base64');
  if (format === 'HexEntryId') return Buffer.from(id, 'latin1').toString('hex').toUpperCase();
  return id;
}

export const convertId: Operation = async (call, op) => {
  const dest = op.attrs['DestinationFormat'] as Format;
  return perObject('ConvertId', children(child(op, 'SourceIds'), 'AlternateId'), async (el) => {
    const format = el.attrs['Format'] as Format;
    if (!FORMATS.includes(dest) || !FORMATS.includes(format)) throw new EwsError('ErrorInvalidRequest', 'Unknown id format');
    const mailbox = el.attrs['Mailbox'] ?? '';
    if (mailbox.toLowerCase() !== call.user.address.toLowerCase()) throw new EwsError('ErrorInvalidIdMalformed', 'Id is malformed.');
    const id = decode(el.attrs['Id'] ?? '', format);
    const known = /^M[0-9a-z]+$/.test(id) ? await call.ctx.store.getMessage(call.user.id, id) : null;
    const folder = !known && /^F[0-9a-z]+$/.test(id) ? (await call.ctx.store.listFolders(call.user.id)).find((f) => f.mailboxId === id) : undefined;
    if (!known && !folder) throw new EwsError('ErrorInvalidIdMalformed', 'Id is malformed.');
    return `<m:AlternateId xsi:type="t:AlternateIdType" Format="${esc(dest)}" Id="${esc(encode(id, dest))}" Mailbox="${esc(call.user.address)}"/>`;
  });
};
