import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { keepingSelection } from './caret';

/**
 * The rich-text message body: a contenteditable div driven by the browser's own editing
 * commands (document.execCommand), which every browser still implements and which cost the
 * bundle nothing. What it produces is only a proposal: the server sanitises the HTML before
 * anything is sent or saved.
 */

/** Commands that toggle, so their buttons show aria-pressed. */
const TOGGLES = [
  { cmd: 'bold', label: 'Bold (Ctrl+B)', face: 'B', key: 'b' },
  { cmd: 'italic', label: 'Italic (Ctrl+I)', face: 'I', key: 'i' },
  { cmd: 'underline', label: 'Underline (Ctrl+U)', face: 'U', key: 'u' },
  { cmd: 'insertUnorderedList', label: 'Bulleted list', face: '•', key: '' },
  { cmd: 'insertOrderedList', label: 'Numbered list', face: '1.', key: '' },
] as const;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&${({ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot' } as Record<string, string>)[c]};`);
}

/**
 * A link target the user typed, or null. Only web and mail links: a bare address becomes
 * mailto:, a bare host name https://, and any other scheme (javascript:, data:, file:) is refused.
 */
export function linkTarget(typed: string): string | null {
  let s = typed.trim();
  if (!s) return null;
  if (!/^[a-z][a-z\d+.-]*:/i.test(s)) s = /^[^\s@/]+@[^\s@/]+$/.test(s) ? `mailto:${s}` : `https://${s}`;
  try {
    const u = new URL(s);
    return ['http:', 'https:', 'mailto:'].includes(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

export function RichEditor(props: { initialHtml: string; editorRef: RefObject<HTMLDivElement | null>; onError: (message: string) => void }) {
  const ref = props.editorRef;
  // the selection inside the editor, kept while focus is on a toolbar button or a prompt
  const saved = useRef<Range | null>(null);
  const [active, setActive] = useState<Record<string, boolean>>({});

  const refresh = () => setActive(Object.fromEntries(TOGGLES.map((t) => [t.cmd, document.queryCommandState(t.cmd)])));

  useEffect(() => {
    // set once: re-rendering must never overwrite what the user has typed
    if (ref.current) ref.current.innerHTML = props.initialHtml;
    const onSelection = () => {
      const sel = document.getSelection();
      if (!sel?.rangeCount || !ref.current?.contains(sel.anchorNode)) return;
      saved.current = sel.getRangeAt(0).cloneRange();
      refresh();
    };
    document.addEventListener('selectionchange', onSelection);
    return () => document.removeEventListener('selectionchange', onSelection);
  }, []);

  /** Puts focus and the caret back in the editor (a toolbar click or a prompt took them). */
  function restore() {
    const ed = ref.current!;
    const sel = document.getSelection();
    // asked before focus(), which may put a caret at the start; the saved range can lag the
    // live one by a keystroke, so it is used only when the selection has left the editor
    const inside = !!sel?.rangeCount && ed.contains(sel.anchorNode);
    if (document.activeElement !== ed) ed.focus();
    if (saved.current && sel && !inside) {
      sel.removeAllRanges();
      sel.addRange(saved.current);
    }
  }

  function exec(cmd: string, value?: string) {
    restore();
    const run = () => document.execCommand(cmd, false, value);
    if (/^insert\w+List$/.test(cmd)) keepingSelection(ref.current!, run);
    else run();
    refresh();
  }

  function link() {
    const typed = window.prompt('Link address (http://, https:// or mailto:)', 'https://');
    if (typed === null) return restore();
    const href = linkTarget(typed);
    if (!href) {
      props.onError('A link must be a web address (http, https) or an e-mail address (mailto).');
      return restore();
    }
    props.onError('');
    restore();
    // with nothing selected, the address itself becomes the link text
    if (document.getSelection()?.isCollapsed) exec('insertHTML', `<a href="${escapeHtml(href)}">${escapeHtml(typed.trim())}</a>`);
    else exec('createLink', href);
  }

  function onKeyDown(e: KeyboardEvent) {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return;
    const key = e.key.toLowerCase();
    const toggle = TOGGLES.find((t) => t.key && t.key === key);
    if (toggle || key === 'k') e.preventDefault();
    if (toggle) exec(toggle.cmd);
    else if (key === 'k') link();
  }

  // mousedown would move focus (and the selection) out of the editor before the click
  const keepFocus = (e: MouseEvent) => e.preventDefault();
  return (
    <div class="editor-wrap">
      <div class="editor-toolbar" role="toolbar" aria-label="Formatting">
        {TOGGLES.map((t) => (
          <button key={t.cmd} type="button" class={`fmt-${t.cmd}`} aria-label={t.label} title={t.label}
            aria-pressed={!!active[t.cmd]} onMouseDown={keepFocus} onClick={() => exec(t.cmd)}>{t.face}</button>
        ))}
        <button type="button" aria-label="Insert link (Ctrl+K)" title="Insert link (Ctrl+K)" onMouseDown={keepFocus} onClick={link}>Link</button>
        <button type="button" aria-label="Remove formatting" title="Remove formatting" onMouseDown={keepFocus}
          onClick={() => { exec('removeFormat'); exec('unlink'); }}>T̸</button>
      </div>
      <div ref={ref} class="editor" contentEditable role="textbox" aria-multiline="true" aria-label="Message body"
        onKeyDown={onKeyDown} />
    </div>
  );
}
