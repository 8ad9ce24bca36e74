import { useEffect, useState } from 'preact/hooks';
import { formatSize, get, type Folder, type Me, type Message } from './api';
import { replyInit, type ComposeInit } from './Compose';

interface Props {
  id: string;
  folders: Folder[];
  inDrafts: boolean;
  me: Me;
  onBack: () => void;
  onCompose: (init: ComposeInit) => void;
  onMove: (folderId: number) => void;
  onDelete: () => void;
  onFlags: (f: { seen?: boolean; flagged?: boolean }) => void;
  onLoaded: (m: Message) => void;
}

/**
 * The reading pane. HTML mail arrives sanitised from the server and is shown in an iframe
 * with `sandbox` (no scripts, no same-origin access, no forms) and its own CSP; remote
 * images stay blocked until the reader asks for them.
 */
export function Reader(props: Props) {
  const [m, setM] = useState<Message | null>(null);
  const [images, setImages] = useState(false);
  const [error, setError] = useState('');

  useEffect(() => setImages(false), [props.id]);
  useEffect(() => {
    let live = true;
    setError('');
    get<Message>(`/messages/${props.id}${images ? '?images=1' : ''}`)
      .then((msg) => {
        if (!live) return;
        setM(msg);
        props.onLoaded(msg);
      })
      .catch((err: Error) => live && setError(err.message));
    return () => { live = false; };
  }, [props.id, images]);

  /** A draft is the user's own text: its pictures are loaded for editing even while the pane blocks them. */
  async function editDraft(draft: Message) {
    try {
      const full = draft.remoteImages > 0 && !images ? await get<Message>(`/messages/${draft.id}?images=1`) : draft;
      props.onCompose(replyInit(full, 'draft', props.me));
    } catch (err) {
      setError((err as Error).message);
    }
  }

  if (error) return <p class="error">{error}</p>;
  if (!m || m.id !== props.id) return <p class="empty">Loading…</p>;
  const targets = props.folders.filter((f) => f.id !== m.folderId);
  return (
    <article class="reader">
      <div class="toolbar" role="toolbar" aria-label="Message actions">
        <button type="button" class="only-phone" onClick={props.onBack}>← Back</button>
        {props.inDrafts
          ? <button type="button" onClick={() => void editDraft(m)}>Edit draft</button>
          : <>
            <button type="button" onClick={() => props.onCompose(replyInit(m, 'reply', props.me))}>Reply</button>
            <button type="button" onClick={() => props.onCompose(replyInit(m, 'replyAll', props.me))}>Reply all</button>
            <button type="button" onClick={() => props.onCompose(replyInit(m, 'forward', props.me))}>Forward</button>
          </>}
        <button type="button" onClick={props.onDelete}>Delete</button>
        <select aria-label="Move to folder" value="" onChange={(e) => {
          const v = Number(e.currentTarget.value);
          if (v) props.onMove(v);
        }}>
          <option value="">Move to…</option>
          {targets.map((f) => <option key={f.id} value={f.id}>{f.name === 'INBOX' ? 'Inbox' : f.name}</option>)}
        </select>
        <button type="button" aria-pressed={m.flagged} onClick={() => { props.onFlags({ flagged: !m.flagged }); setM({ ...m, flagged: !m.flagged }); }}>
          {m.flagged ? 'Clear flag' : 'Flag'}
        </button>
        <button type="button" onClick={() => { props.onFlags({ seen: !m.seen }); setM({ ...m, seen: !m.seen }); }}>
          {m.seen ? 'Mark as unread' : 'Mark as read'}
        </button>
      </div>
      <header class="reader-head">
        <h2 class="reader-subject">{m.subject || '(no subject)'}</h2>
        <div><b>From:</b> {m.from}</div>
        {m.to && <div><b>To:</b> {m.to}</div>}
        {m.cc && <div><b>Cc:</b> {m.cc}</div>}
        <div class="reader-date">{new Date(m.date).toLocaleString()}</div>
      </header>
      {m.remoteImages > 0 && !images && (
        <div class="images-bar">
          Pictures from the internet have been blocked to protect your privacy.{' '}
          <button type="button" class="linklike" onClick={() => setImages(true)}>Show images</button>
        </div>
      )}
      {m.attachments.length > 0 && (
        <ul class="attachments" aria-label="Attachments">
          {m.attachments.map((a) => (
            <li key={a.index}>
              <a href={`/owa/api/messages/${m.id}/attachments/${a.index}`} download={a.filename}>📎 {a.filename}</a>
              <span class="size"> ({formatSize(a.size)})</span>
            </li>
          ))}
        </ul>
      )}
      {m.htmlDocument !== null
        ? <iframe class="mail-body" title="Message body" sandbox="allow-popups allow-popups-to-escape-sandbox"
            referrerpolicy="no-referrer" srcdoc={m.htmlDocument} />
        : <pre class="mail-text">{m.text}</pre>}
    </article>
  );
}
