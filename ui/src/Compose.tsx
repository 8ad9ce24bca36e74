import { useRef, useState } from 'preact/hooks';
import { fileToBase64, parseAddresses, post, type Me, type Message } from './api';
import { escapeHtml, RichEditor } from './Editor';

export interface ComposeInit {
  to?: string; cc?: string; bcc?: string; subject?: string;
  /** The editor's starting content, as HTML (already sanitised by the server, or escaped here). */
  html?: string;
  replyTo?: string; attachmentsOf?: string; carried?: string[]; draftId?: string;
}

const textToHtml = (text: string) => escapeHtml(text.trimEnd()).replace(/\r?\n/g, '<br>');

/**
 * A message's body as editor HTML: an HTML message's sanitised body (pictures still blocked
 * in the reader are left out: they have no address), a plain one escaped.
 */
export function bodyHtml(m: Message): string {
  if (m.htmlDocument === null) return textToHtml(m.text);
  const body = new DOMParser().parseFromString(m.htmlDocument, 'text/html').body;
  for (const img of body.querySelectorAll('img[data-mw-blocked]')) img.remove();
  return body.innerHTML;
}

/** Two empty lines to write in, the original's header block, and the original in a blockquote. */
function quote(m: Message): string {
  const head = [
    '-----Original Message-----', `From: ${m.from}`, `Sent: ${new Date(m.date).toLocaleString()}`, `To: ${m.to}`,
    ...(m.cc ? [`Cc: ${m.cc}`] : []), `Subject: ${m.subject}`,
  ].map(escapeHtml).join('<br>');
  return `<div><br></div><div><br></div><div>${head}</div>`
    + `<blockquote style="margin:0 0 0 .8ex;border-left:2px solid #ccc;padding-left:1ex">${bodyHtml(m)}</blockquote>`;
}

function prefixed(prefix: string, subject: string): string {
  return new RegExp(`^${prefix}:`, 'i').test(subject) ? subject : `${prefix}: ${subject}`;
}

/** What Reply, Reply all, Forward and Edit draft start from. */
export function replyInit(m: Message, how: 'reply' | 'replyAll' | 'forward' | 'draft', me: Me): ComposeInit {
  const notMe = (list: string[]) => list.filter((a) => a.toLowerCase() !== me.address.toLowerCase());
  const sender = m.replyTo || m.fromAddress;
  const names = m.attachments.map((a) => a.filename);
  switch (how) {
    case 'reply':
      return { to: sender, subject: prefixed('RE', m.subject), html: quote(m), replyTo: m.id };
    case 'replyAll':
      return {
        to: [sender, ...notMe(parseAddresses(m.to))].join(', '), cc: notMe(parseAddresses(m.cc)).join(', '),
        subject: prefixed('RE', m.subject), html: quote(m), replyTo: m.id,
      };
    case 'forward':
      return { subject: prefixed('FW', m.subject), html: quote(m), attachmentsOf: names.length ? m.id : undefined, carried: names };
    case 'draft':
      return {
        to: m.to, cc: m.cc, bcc: m.bcc, subject: m.subject, html: bodyHtml(m), draftId: m.id,
        attachmentsOf: names.length ? m.id : undefined, carried: names,
      };
  }
}

export function Compose(props: { init: ComposeInit; me: Me; onClose: (message?: string) => void }) {
  const i = props.init;
  const [to, setTo] = useState(i.to ?? '');
  const [cc, setCc] = useState(i.cc ?? '');
  const [bcc, setBcc] = useState(i.bcc ?? '');
  const [subject, setSubject] = useState(i.subject ?? '');
  const [files, setFiles] = useState<File[]>([]);
  const [draftId, setDraftId] = useState(i.draftId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const editor = useRef<HTMLDivElement>(null);

  async function body() {
    const attachments = await Promise.all(files.map(async (f) => ({
      filename: f.name, contentType: f.type || 'application/octet-stream', data: await fileToBase64(f),
    })));
    return {
      to: parseAddresses(to), cc: parseAddresses(cc), bcc: parseAddresses(bcc), subject,
      // the server sanitises this and derives the text/plain alternative from it
      html: editor.current?.innerHTML ?? '', attachments,
      replyTo: i.replyTo, attachmentsOf: i.attachmentsOf, draftId,
    };
  }

  async function run(what: 'send' | 'draft') {
    setBusy(true);
    setError('');
    try {
      if (what === 'send') {
        await post('/send', await body());
        props.onClose('Your message has been sent.');
      } else {
        const r = await post<{ id: string }>('/drafts', await body());
        setDraftId(r.id);
        props.onClose('Draft saved.');
      }
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="compose-backdrop">
      <form class="compose" aria-label="New message" onSubmit={(e) => { e.preventDefault(); void run('send'); }}>
        <div class="compose-head">
          <strong>{i.replyTo ? 'Reply' : i.attachmentsOf && !i.draftId ? 'Forward' : 'New message'}</strong>
          <span class="from">From: {props.me.address}</span>
        </div>
        <label>To <input name="to" value={to} onInput={(e) => setTo(e.currentTarget.value)} autocomplete="off" /></label>
        <label>Cc <input name="cc" value={cc} onInput={(e) => setCc(e.currentTarget.value)} autocomplete="off" /></label>
        <label>Bcc <input name="bcc" value={bcc} onInput={(e) => setBcc(e.currentTarget.value)} autocomplete="off" /></label>
        <label>Subject <input name="subject" value={subject} onInput={(e) => setSubject(e.currentTarget.value)} /></label>
        <RichEditor initialHtml={i.html ?? ''} editorRef={editor} onError={setError} />
        {i.carried && i.carried.length > 0 && <p class="carried">Included: {i.carried.join(', ')}</p>}
        <label class="attach">Attach files
          <input type="file" name="attachments" multiple
            onChange={(e) => {
              setFiles([...files, ...Array.from(e.currentTarget.files ?? [])]);
              e.currentTarget.value = ''; // so that choosing the same file again still counts
            }} />
        </label>
        {files.length > 0 && (
          <ul class="attachments">
            {files.map((f, n) => (
              <li key={`${f.name}-${n}`}>{f.name} <button type="button" class="linklike" onClick={() => setFiles(files.filter((_, k) => k !== n))}>remove</button></li>
            ))}
          </ul>
        )}
        {error && <p class="error" role="alert">{error}</p>}
        <div class="compose-actions">
          <button type="submit" disabled={busy}>Send</button>
          <button type="button" disabled={busy} onClick={() => void run('draft')}>Save draft</button>
          <button type="button" disabled={busy} onClick={() => props.onClose()}>Discard</button>
        </div>
      </form>
    </div>
  );
}
