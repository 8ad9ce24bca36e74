import { useEffect, useRef, useState } from 'preact/hooks';
import { formatDate, get, type ListItem } from './api';

const ROW = 64;
const PAGE = 100;
const OVERSCAN = 10;

interface Page { total: number; items: ListItem[] }

/**
 * A virtual list: only the rows in view exist in the page, and rows are fetched a page
 * (100) at a time as they scroll into view, so a folder of 100,000 messages costs what
 * a folder of 30 does. Newest first, as the store lists them.
 */
export function MessageList(props: { folderId: number; query: string; version: number; selected: string | null; onSelect: (id: string) => void }) {
  const [total, setTotal] = useState<number | null>(null);
  const [pages, setPages] = useState<Map<number, ListItem[]>>(new Map());
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const [error, setError] = useState('');
  const box = useRef<HTMLDivElement>(null);
  const loading = useRef(new Set<string>());
  const key = `${props.folderId}|${props.query}`;
  const keyRef = useRef(key);

  // another folder or search: start at the top
  useEffect(() => {
    keyRef.current = key;
    setPages(new Map());
    setTotal(null);
    if (box.current) box.current.scrollTop = 0;
    setScrollTop(0);
  }, [key]);

  // something changed (new mail, a move): drop the cached pages, keep the scroll position
  useEffect(() => {
    if (props.version > 0) setPages(new Map());
  }, [props.version]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / ROW) - OVERSCAN);
  const last = Math.floor((scrollTop + height) / ROW) + OVERSCAN;

  useEffect(() => {
    const want = new Set<number>();
    for (let i = first; i <= (total === null ? first : Math.min(last, total - 1)); i++) want.add(Math.floor(i / PAGE));
    for (const p of want) {
      const id = `${key}|${p}|${props.version}`;
      if (pages.has(p) || loading.current.has(id)) continue;
      loading.current.add(id);
      const q = props.query ? `&q=${encodeURIComponent(props.query)}` : '';
      get<Page>(`/folders/${props.folderId}/messages?offset=${p * PAGE}&limit=${PAGE}${q}`)
        .then((r) => {
          if (keyRef.current !== key) return;
          setTotal(r.total);
          setPages((old) => new Map(old).set(p, r.items));
          setError('');
        })
        .catch((err: Error) => setError(err.message))
        .finally(() => loading.current.delete(id));
    }
  }, [first, last, total, pages, key, props.version]);

  const rows = [];
  if (total !== null) {
    for (let i = first; i <= Math.min(last, total - 1); i++) {
      const m = pages.get(Math.floor(i / PAGE))?.[i % PAGE];
      rows.push(
        <div key={m ? m.id : `p${i}`} class={`row${m && !m.seen ? ' unseen' : ''}${m && m.id === props.selected ? ' selected' : ''}`}
          style={{ top: `${i * ROW}px`, height: `${ROW}px` }} role="option" aria-selected={m?.id === props.selected}
          data-id={m?.id} onClick={() => m && props.onSelect(m.id)}>
          {m ? (
            <>
              <div class="row-line">
                <span class="row-from">{m.draft ? `[Draft] ${m.to}` : m.from || '(unknown sender)'}</span>
                <span class="row-date">{formatDate(m.date)}</span>
              </div>
              <div class="row-line">
                <span class="row-subject">{m.subject || '(no subject)'}</span>
                <span class="row-icons">{m.hasAttachments ? '📎' : ''}{m.flagged ? '🚩' : ''}</span>
              </div>
              <div class="row-preview">{m.preview}</div>
            </>
          ) : <div class="row-line placeholder">…</div>}
        </div>,
      );
    }
  }

  return (
    <div class="list-scroll" ref={box} role="listbox" aria-label="Message list"
      onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
      {error && <p class="error">{error}</p>}
      {total === 0 && <p class="empty">{props.query ? 'No items match your search.' : 'This folder is empty.'}</p>}
      <div class="list-spacer" style={{ height: `${(total ?? 0) * ROW}px` }}>{rows}</div>
    </div>
  );
}
