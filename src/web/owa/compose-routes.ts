import type { FastifyInstance } from 'fastify';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { z } from 'zod';
import { submitMessage } from '../../transport/submit.js';
import type { User } from '../../store/types.js';
import { MessageId, requireSession, type OwaDeps } from './api-context.js';
import { composedBody } from './compose-body.js';
import { HttpError } from './errors.js';
import { messageAttachments } from './render.js';

/** A bare address; display names are the UI's business, the envelope needs addresses. */
const Address = z.string().trim().max(320).regex(/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+$/, 'not an e-mail address');
const Compose = z.object({
  to: z.array(Address).max(500).default([]),
  cc: z.array(Address).max(500).default([]),
  bcc: z.array(Address).max(500).default([]),
  subject: z.string().max(998).default(''),
  /** The plain-text body; with `html`, its text/plain alternative (derived from the HTML when empty). */
  text: z.string().max(5_000_000).default(''),
  /** A rich body from the editor: sanitised here, sent as multipart/alternative with the text. */
  html: z.string().max(5_000_000).optional(),
  attachments: z.array(z.object({
    filename: z.string().min(1).max(255),
    contentType: z.string().max(200).regex(/^[\w.+-]+\/[\w.+-]+$/).default('application/octet-stream'),
    /** base64: JSON has no bytes, and 4/3 of a few MB is fine under the body limit */
    data: z.string().max(40_000_000).regex(/^[A-Za-z0-9+/=\s]*$/),
  })).max(50).default([]),
  /** Message being replied to: its Message-ID becomes In-Reply-To/References (read here, not trusted from the client). */
  replyTo: MessageId.optional(),
  /** Message whose attachments are carried over (forward, or re-editing a draft). */
  attachmentsOf: MessageId.optional(),
  /** Draft this replaces (saving again, or sending it). */
  draftId: MessageId.optional(),
});
type ComposeInput = z.infer<typeof Compose>;

async function buildRaw(deps: OwaDeps, user: User, input: ComposeInput, asDraft: boolean): Promise<Buffer> {
  const { store } = deps.ctx;
  const attachments: Array<{ filename: string; content: Buffer; contentType: string }> = input.attachments.map((a) => ({
    filename: a.filename, content: Buffer.from(a.data, 'base64'), contentType: a.contentType,
  }));
  if (input.attachmentsOf) {
    const orig = await store.getMessage(user.id, input.attachmentsOf);
    if (!orig) throw new HttpError(404, `no message ${input.attachmentsOf}`);
    for (const a of await messageAttachments(await store.readBlob(orig.blobHash))) {
      attachments.push({ filename: a.filename ?? 'attachment', content: a.content, contentType: a.contentType });
    }
  }
  let inReplyTo: string | undefined;
  let references: string[] | undefined;
  if (input.replyTo) {
    const orig = await store.getMessage(user.id, input.replyTo);
    if (!orig) throw new HttpError(404, `no message ${input.replyTo}`);
    if (orig.messageId) {
      inReplyTo = orig.messageId;
      references = [orig.messageId];
    }
  }
  const node = new MailComposer({
    from: { name: user.displayName, address: user.address },
    to: input.to, cc: input.cc, bcc: input.bcc, subject: input.subject, ...composedBody(input.text, input.html),
    attachments, inReplyTo, references,
  }).compile();
  // a draft keeps its Bcc so that it can be edited; a sent message must not show it
  node.keepBcc = asDraft;
  return node.build();
}

async function removeDraft(deps: OwaDeps, user: User, draftId: string | undefined): Promise<void> {
  if (!draftId) return;
  const { store } = deps.ctx;
  const m = await store.getMessage(user.id, draftId);
  const drafts = await store.getSpecialFolder(user.id, '\\Drafts');
  if (!m || m.folderId !== drafts.id) return;
  await store.removeMessages(user.id, drafts.id, [m.uid]);
}

export function composeRoutes(app: FastifyInstance, deps: OwaDeps): void {
  /** Send through the same path as SMTP submission, with a copy in Sent Items. */
  app.post('/api/send', async (req) => {
    const s = requireSession(deps, req);
    const input = Compose.parse(req.body);
    const to = [...input.to, ...input.cc, ...input.bcc];
    if (to.length === 0) throw new HttpError(400, 'Add at least one recipient.');
    const raw = await buildRaw(deps, s.user, input, false);
    const result = await submitMessage(deps.ctx, s.user, { from: s.user.address, to, raw, saveToSent: true });
    await removeDraft(deps, s.user, input.draftId);
    return result;
  });

  /** Saving a draft replaces the previous version of it (IMAP has no "update message"). */
  app.post('/api/drafts', async (req) => {
    const s = requireSession(deps, req);
    const input = Compose.parse(req.body);
    const raw = await buildRaw(deps, s.user, input, true);
    const drafts = await deps.ctx.store.getSpecialFolder(s.user.id, '\\Drafts');
    const saved = await deps.ctx.store.append(s.user.id, drafts.id, raw, { flags: ['\\Draft', '\\Seen'] });
    await removeDraft(deps, s.user, input.draftId);
    return { id: saved.objectId, folderId: drafts.id };
  });
}
