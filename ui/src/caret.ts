/**
 * The selection inside an editor, as character offsets into its text. Chromium's list commands
 * (insertUnorderedList/insertOrderedList) move the caret to the start of the item; the text
 * itself is unchanged, so offsets into it find the same place again afterwards.
 */

function textOffset(root: Node, node: Node, offset: number): number {
  const r = document.createRange();
  r.setStart(root, 0);
  r.setEnd(node, offset);
  return r.toString().length;
}

function pointAt(root: Node, n: number): [Node, number] {
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let t = walk.nextNode() as Text | null; t; t = walk.nextNode() as Text | null) {
    if (n <= t.data.length) return [t, n];
    n -= t.data.length;
  }
  return [root, root.childNodes.length];
}

/** Runs `change` and puts the selection back where it was in the text of `root`. */
export function keepingSelection(root: HTMLElement, change: () => void): void {
  const sel = document.getSelection();
  if (!sel?.rangeCount || !root.contains(sel.anchorNode)) return change();
  const r = sel.getRangeAt(0);
  const start = textOffset(root, r.startContainer, r.startOffset);
  const end = textOffset(root, r.endContainer, r.endOffset);
  change();
  const back = document.createRange();
  back.setStart(...pointAt(root, start));
  back.setEnd(...pointAt(root, end));
  sel.removeAllRanges();
  sel.addRange(back);
}
