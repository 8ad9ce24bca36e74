import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { Admin } from './Admin';
import { get, post, type Folder, type Me, type Message } from './api';
import { Compose, type ComposeInit } from './Compose';
import { FolderTree } from './FolderTree';
import { MessageList } from './MessageList';
import { Reader } from './Reader';
import { usePush } from './push';

/** Which pane a phone shows; on a wide screen all three are visible. */
type Pane = 'folders' | 'list' | 'reader';

export function Mailbox(props: { me: Me; onSignedOut: (msg: string) => void }) {
  const [folders, setFolders] = useState<Folder[]>([]);
  const [folderId, setFolderId] = useState<number | null>(null);
  const [query, setQuery] = useState('');
  const [searchText, setSearchText] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  const [pane, setPane] = useState<Pane>('list');
  const [compose, setCompose] = useState<ComposeInit | null>(null);
  const [admin, setAdmin] = useState(false);
  const [toast, setToast] = useState('');
  const folderRef = useRef<number | null>(null);
  // our own sign-out also ends the push stream; that is not "your session has ended"
  const leaving = useRef(false);
  folderRef.current = folderId;

  const loadFolders = useCallback(async () => {
    const r = await get<{ folders: Folder[] }>('/folders');
    setFolders(r.folders);
    if (folderRef.current === null) setFolderId(r.folders.find((f) => f.specialUse === '\\Inbox')?.id ?? r.folders[0]?.id ?? null);
  }, []);

  useEffect(() => void loadFolders().catch(() => undefined), [loadFolders]);

  // new mail and changes made elsewhere (IMAP, another tab) arrive without a reload; a burst
  // (a bulk move, a big delivery run) is gathered into one refresh per quarter second
  const pending = useRef<{ timer?: ReturnType<typeof setTimeout>; current: boolean }>({ current: false });
  usePush({
    onChange: (changedFolder) => {
      const p = pending.current;
      p.current ||= changedFolder === folderRef.current;
      if (p.timer) return;
      p.timer = setTimeout(() => {
        const touchedCurrent = p.current;
        pending.current = { current: false };
        void loadFolders().catch(() => undefined);
        if (touchedCurrent) setVersion((v) => v + 1);
      }, 250);
    },
    onSignedOut: () => { if (!leaving.current) props.onSignedOut('Your session has ended.'); },
  });

  const refresh = () => {
    setVersion((v) => v + 1);
    void loadFolders().catch(() => undefined);
  };
  const say = (text: string) => {
    setToast(text);
    setTimeout(() => setToast(''), 4000);
  };

  async function signOut() {
    leaving.current = true;
    await post('/logout').catch(() => undefined);
    props.onSignedOut('You have signed out.');
  }

  async function act(path: string, body: unknown, message: string, clearSelection = true) {
    try {
      await post(path, body);
      say(message);
      if (clearSelection) {
        setSelected(null);
        setPane('list');
      }
      refresh();
    } catch (err) {
      say((err as Error).message);
    }
  }

  const current = folders.find((f) => f.id === folderId);
  return (
    <div class="mailbox" data-pane={pane}>
      <header class="topbar">
        <button type="button" class="only-phone" aria-label="Folders" onClick={() => setPane('folders')}>☰</button>
        <strong class="brand">Mailwarden</strong>
        <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); setQuery(searchText.trim()); setSelected(null); setPane('list'); }}>
          <input type="search" name="q" placeholder="Search mail (from, subject, body)" value={searchText}
            onInput={(e) => setSearchText(e.currentTarget.value)} />
        </form>
        <button type="button" onClick={() => setCompose({})}>New mail</button>
        {props.me.isAdmin && <button type="button" onClick={() => setAdmin(!admin)}>{admin ? 'Mail' : 'Admin'}</button>}
        <span class="who" title={props.me.address}>{props.me.displayName}</span>
        <button type="button" onClick={signOut}>Sign out</button>
      </header>
      {admin ? <Admin me={props.me} /> : (
        <div class="panes">
          <nav class="pane folders-pane" aria-label="Folders">
            <FolderTree folders={folders} current={folderId}
              onSelect={(id) => { setFolderId(id); setSelected(null); setQuery(''); setSearchText(''); setPane('list'); }} />
          </nav>
          <section class="pane list-pane" aria-label="Messages">
            <div class="list-head">
              <span>{current?.name === 'INBOX' ? 'Inbox' : current?.name ?? ''}{query && <> — results for “{query}” <button type="button" class="linklike" onClick={() => { setQuery(''); setSearchText(''); }}>clear</button></>}</span>
            </div>
            {folderId !== null && (
              <MessageList folderId={folderId} query={query} version={version} selected={selected}
                onSelect={(id) => { setSelected(id); setPane('reader'); }} />
            )}
          </section>
          <section class="pane reader-pane" aria-label="Reading pane">
            {selected !== null ? (
              <Reader id={selected} folders={folders} inDrafts={current?.specialUse === '\\Drafts'} me={props.me}
                onBack={() => setPane('list')}
                onCompose={setCompose}
                onMove={(to) => act('/messages/move', { ids: [selected], folderId: to }, 'Moved.')}
                onDelete={() => act('/messages/delete', { ids: [selected] }, 'Deleted.')}
                onFlags={(f) => act('/messages/flags', { ids: [selected], ...f }, 'Updated.', false)}
                onLoaded={(m: Message) => { if (!m.seen) void loadFolders(); }} />
            ) : <p class="empty">Select an item to read.</p>}
          </section>
        </div>
      )}
      {compose && (
        <Compose init={compose} me={props.me} onClose={(msg) => { setCompose(null); if (msg) say(msg); refresh(); }} />
      )}
      {toast && <div class="toast" role="status">{toast}</div>}
    </div>
  );
}
