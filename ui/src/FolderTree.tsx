import type { Folder } from './api';

/** Well-known folders first, in the order Outlook shows them; the rest by name. */
const ORDER = ['\\Inbox', '\\Drafts', '\\Sent', '\\Trash', '\\Junk'];

function sortKey(f: Folder): string {
  const i = f.specialUse ? ORDER.indexOf(f.specialUse) : -1;
  return i >= 0 ? `0${i}` : `1${f.name.toLowerCase()}`;
}

/** Folders as a tree: "Projects/2024" is shown as 2024 under Projects (IMAP hierarchy delimiter "/"). */
export function FolderTree(props: { folders: Folder[]; current: number | null; onSelect: (id: number) => void }) {
  const sorted = [...props.folders].sort((a, b) => {
    const [ra, rb] = [a.name.split('/')[0]!, b.name.split('/')[0]!];
    const top = (n: string) => props.folders.find((f) => f.name === n);
    const ka = top(ra) ? sortKey(top(ra)!) : `1${ra}`;
    const kb = top(rb) ? sortKey(top(rb)!) : `1${rb}`;
    return ka === kb ? a.name.localeCompare(b.name) : ka.localeCompare(kb);
  });
  return (
    <ul class="folder-tree">
      {sorted.map((f) => {
        const parts = f.name.split('/');
        const label = f.name === 'INBOX' ? 'Inbox' : parts[parts.length - 1];
        return (
          <li key={f.id} style={{ paddingLeft: `${(parts.length - 1) * 14}px` }}>
            <button type="button" class={f.id === props.current ? 'folder current' : 'folder'} data-folder={f.name}
              aria-current={f.id === props.current ? 'true' : undefined} onClick={() => props.onSelect(f.id)}>
              <span class="folder-name">{label}</span>
              {f.unread > 0 && <span class="unread" aria-label={`${f.unread} unread`}>{f.unread}</span>}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
