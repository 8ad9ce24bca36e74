/**
 * A small, strict, namespace-aware XML reader for SOAP and Autodiscover requests, and the escaping
 * the writers use.
 *
 * Why not a general parser: EWS requests are plain element trees, and what a general parser
 * offers beyond that is what attacks use. This one refuses any DOCTYPE (so no entity can be
 * declared: no XXE, no "billion laughs") and any entity reference but the five predefined ones
 * and character references; it keeps no more than `maxDepth` levels and `maxElements` elements
 * (so the tree is never more than a small multiple of the body) and is given only bodies
 * already cut at the request size limit. Elements are named by their namespace URI and local
 * name, so `m:GetFolder` (exchangelib, DavMail) and `<GetFolder xmlns="…messages">`
 * (Thunderbird) read the same.
 */

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

export interface XmlElement {
  /** Namespace URI ('' for none). */
  ns: string;
  /** Local name, without prefix. */
  name: string;
  /** Attributes by local name (EWS attributes are unqualified). */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own character data, concatenated. */
  text: string;
}

/**
 * Elements in one request. A 35 MB body of `<a/>` would be millions of element objects (~50 times
 * its size in memory); no EWS request a client sends comes near this many.
 */
export const MAX_ELEMENTS = 200_000;

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const NAME = /[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?/y;

function decodeText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]{0,12});?/g, (whole, ref: string) => {
    if (!whole.endsWith(';')) throw new XmlError('Bare "&" in character data');
    if (ref.startsWith('#x') || ref.startsWith('#X')) return codePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return codePoint(parseInt(ref.slice(1), 10));
    const v = PREDEFINED[ref];
    if (v === undefined) throw new XmlError(`Entity reference &${ref}; is not accepted (only the predefined entities)`);
    return v;
  });
}

function codePoint(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) throw new XmlError('Bad character reference');
  return String.fromCodePoint(n);
}

/** Parses a document; throws XmlError for anything not well-formed or not accepted. */
export function parseXml(src: string, maxDepth = 64, maxElements = MAX_ELEMENTS): XmlElement {
  let i = 0;
  // each open element keeps only the namespaces it declares; a prefix is looked up through the
  // stack (at most maxDepth deep). Copying the whole scope per element was quadratic: thousands of
  // declarations on a parent, copied for each of thousands of children (issue 14).
  const stack: Array<{ el: XmlElement; qname: string; decls: Map<string, string> | null }> = [];
  const lookup = (prefix: string, own: Map<string, string> | null): string | undefined => {
    const mine = own?.get(prefix);
    if (mine !== undefined) return mine;
    for (let d = stack.length - 1; d >= 0; d--) {
      const v = stack[d]!.decls?.get(prefix);
      if (v !== undefined) return v;
    }
    return prefix === 'xml' ? 'http://www.w3.org/XML/1998/namespace' : undefined;
  };
  let root: XmlElement | null = null;
  let elements = 0;
  if (src.charCodeAt(0) === 0xfeff) i = 1;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const textEnd = lt < 0 ? src.length : lt;
    if (textEnd > i) {
      const raw = src.slice(i, textEnd);
      if (stack.length) stack[stack.length - 1]!.el.text += decodeText(raw);
      else if (raw.trim()) throw new XmlError('Text outside the document element');
    }
    if (lt < 0) break;
    i = lt;
    if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i);
      if (end < 0) throw new XmlError('Unterminated processing instruction');
      i = end + 2;
    } else if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) throw new XmlError('Unterminated comment');
      i = end + 3;
    } else if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i);
      if (end < 0 || !stack.length) throw new XmlError('Misplaced CDATA section');
      stack[stack.length - 1]!.el.text += src.slice(i + 9, end);
      i = end + 3;
    } else if (src.startsWith('<!', i)) {
      throw new XmlError('DOCTYPE and other declarations are not accepted');
    } else if (src.startsWith('</', i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(src);
      const top = stack.pop();
      if (!m || !top || m[0] !== top.qname) throw new XmlError(`Mismatched end tag at offset ${i}`);
      i = NAME.lastIndex;
      while (/\s/.test(src[i] ?? '')) i++;
      if (src[i] !== '>') throw new XmlError(`Bad end tag at offset ${i}`);
      i++;
      if (!stack.length) root = top.el;
    } else {
      if (root) throw new XmlError('More than one document element');
      NAME.lastIndex = i + 1;
      const m = NAME.exec(src);
      if (!m) throw new XmlError(`Bad start tag at offset ${i}`);
      const qname = m[0];
      i = NAME.lastIndex;
      const rawAttrs: Array<[string, string]> = [];
      let selfClosing = false;
      for (;;) {
        const ws = i;
        while (/\s/.test(src[i] ?? '')) i++;
        if (src[i] === '>') { i++; break; }
        if (src.startsWith('/>', i)) { i += 2; selfClosing = true; break; }
        if (i === ws) throw new XmlError(`Bad attribute at offset ${i}`);
        NAME.lastIndex = i;
        const a = NAME.exec(src);
        if (!a) throw new XmlError(`Bad attribute at offset ${i}`);
        i = NAME.lastIndex;
        while (/\s/.test(src[i] ?? '')) i++;
        if (src[i] !== '=') throw new XmlError(`Bad attribute at offset ${i}`);
        i++;
        while (/\s/.test(src[i] ?? '')) i++;
        const q = src[i];
        if (q !== '"' && q !== "'") throw new XmlError(`Unquoted attribute at offset ${i}`);
        const end = src.indexOf(q, i + 1);
        if (end < 0) throw new XmlError('Unterminated attribute value');
        const value = src.slice(i + 1, end);
        if (value.includes('<')) throw new XmlError('"<" in an attribute value');
        rawAttrs.push([a[0], decodeText(value)]);
        i = end + 1;
      }
      let own: Map<string, string> | null = null;
      for (const [k, v] of rawAttrs) {
        if (k === 'xmlns' || k.startsWith('xmlns:')) (own ??= new Map()).set(k === 'xmlns' ? '' : k.slice(6), v);
      }
      const [prefix, local] = qname.includes(':') ? qname.split(':') as [string, string] : ['', qname];
      const ns = lookup(prefix, own);
      if (ns === undefined && prefix) throw new XmlError(`Undeclared namespace prefix "${prefix}"`);
      const attrs: Record<string, string> = {};
      for (const [k, v] of rawAttrs) {
        if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
        attrs[k.includes(':') ? k.slice(k.indexOf(':') + 1) : k] = v;
      }
      if (++elements > maxElements) throw new XmlError(`More than ${maxElements} elements`);
      const el: XmlElement = { ns: ns ?? '', name: local, attrs, children: [], text: '' };
      if (stack.length) stack[stack.length - 1]!.el.children.push(el);
      if (selfClosing) {
        if (!stack.length) root = el;
      } else {
        if (stack.length >= maxDepth) throw new XmlError('Elements nested too deeply');
        stack.push({ el, qname, decls: own });
      }
    }
  }
  if (stack.length || !root) throw new XmlError('Unexpected end of document');
  return root;
}

/** The first child with this local name (any namespace: EWS names do not collide across its namespaces). */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}
export function children(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}
/** The trimmed text of a child, or undefined. */
export function childText(el: XmlElement | undefined, name: string): string | undefined {
  const c = child(el, name);
  return c ? c.text.trim() : undefined;
}

/** Escapes text and attribute values for output. */
export function esc(s: string | number): string {
  // eslint-disable-next-line no-control-regex
  return String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!)
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
}

/** xs:boolean: "true" or "1". */
export const xsBool = (s: string | undefined): boolean => s === 'true' || s === '1';
