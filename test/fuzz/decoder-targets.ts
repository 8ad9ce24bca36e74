// Fuzz targets for the request decoders of the HTTP front ends (issue 14): the EWS SOAP reader
// (src/protocols/ews/xml.ts, soap.ts) and the ActiveSync WBXML decoder (wbxml/codec.ts). The
// generators build valid-ish documents from each grammar (SOAP envelopes with EWS operations,
// element trees from the MS-ASWBXML code pages) and then mutate them: truncation, byte flips,
// spliced tokens, DOCTYPE and entity declarations, string-table references. The invariants:
// only the decoder's typed error is thrown; a DOCTYPE is refused; the output is never larger
// than the input (SOAP) or twice the input (WBXML, whose string table may be named more than once),
// so no entity or string-table expansion; an unmutated document reads back as
// it was written.
import fc from 'fast-check';
import { parseXml, XmlError, type XmlElement } from '../../src/protocols/ews/xml.js';
import { readEnvelope, SoapFault, NS } from '../../src/protocols/ews/soap.js';
import { decode, encode, WbxmlError, type WbxmlElement, type WbxmlNode } from '../../src/protocols/activesync/wbxml/codec.js';
import { CODE_PAGES } from '../../src/protocols/activesync/wbxml/code-pages.js';
import type { FuzzTarget } from './targets.js';

const anyByte = fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b));
const junk = fc.string({ unit: anyByte, maxLength: 16 });

// ------------------------------------------------------------------ SOAP (EWS)
const PREFIXES = ['', 's', 'soap', 'm', 't', 'x', 'xs'];
const NAMESPACES = [NS.soap, NS.messages, NS.types, NS.errors, '', 'urn:other'];
const EWS_NAMES = ['GetFolder', 'FindItem', 'GetItem', 'CreateItem', 'SyncFolderItems', 'FolderShape', 'BaseShape', 'FolderIds', 'DistinguishedFolderId',
  'ItemShape', 'Restriction', 'IsEqualTo', 'FieldURI', 'FieldURIOrConstant', 'Constant', 'Items', 'Message', 'Subject', 'Body', 'MimeContent', 'ItemId', 'SyncState'];
const xmlText = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'Z', '0', ' ', '\n', '\u00e9', '\u20ac', '\ud83d\ude00'), maxLength: 12 }),
  fc.constantFrom('&lt;', '&gt;', '&amp;', '&quot;', '&apos;', '&#65;', '&#x1F600;', '&#0;', '&#xD800;', '&#x110000;', '&#99999999999;', '&', '&amp', '&xxe;', '&lol9;', '&#;', '&#x;'),
  fc.constantFrom('<![CDATA[<raw & text>]]>', '<!-- a comment -->', '<?pi data?>', ']]>'),
  junk,
);
const attrValue = fc.oneof(fc.constantFrom('Exchange2007', 'Exchange2010_SP2', 'Exchange2013', 'inbox', 'AllProperties', 'Default', 'true'), xmlText.map((t) => t.replace(/["<]/g, '')));

interface XNode { prefix: string; name: string; declare: Array<[string, string]>; attrs: Array<[string, string]>; children: Array<XNode | string>; selfClose: boolean }
const xnode: fc.Arbitrary<XNode> = fc.letrec((tie) => ({
  node: fc.record({
    prefix: fc.constantFrom(...PREFIXES),
    name: fc.constantFrom(...EWS_NAMES),
    declare: fc.array(fc.tuple(fc.constantFrom(...PREFIXES), fc.constantFrom(...NAMESPACES)), { maxLength: 2 }),
    attrs: fc.array(fc.tuple(fc.constantFrom('Id', 'Version', 'Traversal', 'ChangeKey', 't:Id', 'xml:lang'), attrValue), { maxLength: 2 }),
    children: fc.oneof({ depthSize: 'small' }, fc.array(xmlText, { maxLength: 2 }), fc.array(fc.oneof(tie('node'), xmlText), { maxLength: 4 })),
    selfClose: fc.boolean(),
  }),
})).node as fc.Arbitrary<XNode>;

function renderX(n: XNode): string {
  const q = n.prefix ? `${n.prefix}:${n.name}` : n.name;
  const attrs = [...n.declare.map(([p, u]) => [p ? `xmlns:${p}` : 'xmlns', u] as const), ...n.attrs].map(([k, v]) => ` ${k}="${v}"`).join('');
  if (n.selfClose && !n.children.length) return `<${q}${attrs}/>`;
  return `<${q}${attrs}>${n.children.map((c) => (typeof c === 'string' ? c : renderX(c))).join('')}</${q}>`;
}

/** A SOAP envelope as the clients write it, around generated operation elements. */
const envelopeText = fc.record({
  decl: fc.constantFrom('', '<?xml version="1.0" encoding="utf-8"?>', '\ufeff<?xml version="1.0"?>\n'),
  envPrefix: fc.constantFrom('s', 'soap', ''),
  version: fc.option(attrValue),
  ops: fc.array(xnode, { minLength: 1, maxLength: 2 }),
}).map(({ decl, envPrefix, version, ops }) => {
  const p = envPrefix ? `${envPrefix}:` : '';
  const x = envPrefix ? `xmlns:${envPrefix}` : 'xmlns';
  const header = version === null ? '' : `<${p}Header><t:RequestServerVersion xmlns:t="${NS.types}" Version="${version}"/></${p}Header>`;
  const body = ops.map((o) => renderX({ ...o, prefix: 'm' })).join('');
  return `${decl}<${p}Envelope ${x}="${NS.soap}" xmlns:m="${NS.messages}" xmlns:t="${NS.types}">${header}<${p}Body>${body}</${p}Body></${p}Envelope>`;
});

/** Declarations an attacker puts in the prolog: each must be refused, whatever else follows. */
const doctype = fc.constantFrom(
  '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
  '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol9 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>',
  '<!DOCTYPE x SYSTEM "http://127.0.0.1/evil.dtd">',
  '<!doctype x>',
  '<!ENTITY e "v">',
  '<!DOCTYPE s:Envelope [<!ATTLIST s:Envelope xmlns:s CDATA #FIXED "x">]>',
);

type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'cut'; at: number } | { kind: 'insert'; at: number; text: string } | { kind: 'dup'; at: number; len: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(4000), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(4000) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(4000), text: fc.oneof(junk, fc.constantFrom('<', '>', '</', '/>', '<a>', '</a>', '&', '"', "'", '<!--', '-->', '<![CDATA[', ']]>', '<?', '?>', 'xmlns:m="x"', ' a="1"', '\u0000'), doctype) }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(4000), len: fc.integer({ min: 1, max: 200 }) }),
);

function mutateText(s: string, ms: Mutation[]): string {
  for (const m of ms) {
    const at = s.length ? m.at % (s.length + 1) : 0;
    if (m.kind === 'flip') s = s.slice(0, at) + String.fromCharCode((s.charCodeAt(at) || 0x20) ^ (1 << m.bit)) + s.slice(at + 1);
    else if (m.kind === 'cut') s = s.slice(0, at);
    else if (m.kind === 'insert') s = s.slice(0, at) + m.text + s.slice(at);
    else s = s.slice(0, at) + s.slice(at, at + m.len) + s.slice(at);
  }
  return s;
}

/** Characters the tree holds (names, attributes, text): never more than the document had. */
function xmlSize(e: XmlElement): { chars: number; elements: number } {
  let chars = e.name.length + e.text.length;
  let elements = 1;
  for (const [k, v] of Object.entries(e.attrs)) chars += k.length + v.length;
  for (const c of e.children) {
    const s = xmlSize(c);
    chars += s.chars;
    elements += s.elements;
  }
  return { chars, elements };
}

export const soapTarget: FuzzTarget<{ doc: string; prolog: string | null; mutations: Mutation[] }> = {
  name: 'ews-soap',
  arbitrary: fc.record({ doc: envelopeText, prolog: fc.option(doctype, { freq: 4 }), mutations: fc.array(mutation, { maxLength: 3 }) }),
  check({ doc, prolog, mutations }) {
    // the DOCTYPE goes after the XML declaration, where a parser that reads DTDs would honour it
    const withProlog = prolog === null ? doc : doc.replace(/^(\ufeff?(?:<\?xml[^>]*\?>\s*)?)/, `$1${prolog}`);
    const text = mutateText(withProlog, mutations);
    let tree: XmlElement | null = null;
    try {
      tree = parseXml(text);
    } catch (err) {
      if (!(err instanceof XmlError)) throw err;
    }
    if (tree) {
      if (prolog !== null && text.startsWith(withProlog.slice(0, withProlog.indexOf(prolog) + prolog.length))) {
        throw new Error(`a document with a DOCTYPE in its prolog was accepted: ${prolog}`);
      }
      const size = xmlSize(tree);
      if (size.chars > text.length) throw new Error(`the tree holds ${size.chars} characters from a document of ${text.length}`);
      if (size.elements * 4 > text.length) throw new Error(`${size.elements} elements from ${text.length} characters`);
    }
    try {
      readEnvelope(text);
    } catch (err) {
      if (!(err instanceof SoapFault)) throw err;
    }
    if (!mutations.length && prolog === null && !tree) {
      // a generated envelope may be refused only for what the generator put in on purpose
      try {
        parseXml(text);
      } catch (err) {
        const why = (err as Error).message;
        if (!/entity|character reference|Bare "&"|CDATA|"<" in an attribute|Text outside|Mismatched|Unterminated|declarations|Bad|Undeclared|more than one|nested|Unexpected end/i.test(why)) throw new Error(`a generated envelope was refused: ${why}`);
      }
    }
  },
};

// ------------------------------------------------------------------ WBXML (ActiveSync)
const PAGES = CODE_PAGES.map((p) => ({ name: p.name, tags: Object.values(p.tags) }));
/** Text written as a string-table reference (STR_T offset) instead of inline: see withTableRefs. */
const TABLE_REF = /^@T(\d+)@$/;
const wbxmlText = fc.oneof(fc.nat(12).map((n) => `@T${n}@`), fc.string({ unit: fc.constantFrom('a', '1', ' ', '\u00e9', '\ud83d\ude00', '<', '&'), minLength: 1, maxLength: 10 }), fc.constantFrom('0', '1', 'Email', '{5-1}'));
const wbxmlOpaque = fc.uint8Array({ maxLength: 24 }).map((a) => Buffer.from(a));
const wbxmlTree: fc.Arbitrary<WbxmlElement> = fc.letrec((tie) => ({
  node: fc.tuple(fc.nat(PAGES.length - 1), fc.nat(200), fc.oneof({ depthSize: 'small' }, fc.constant([]), fc.array(fc.oneof(tie('node'), wbxmlText, wbxmlOpaque), { maxLength: 4 }))).map(([p, t, children]) => {
    const page = PAGES[p]!;
    return { page: page.name, tag: page.tags[t % page.tags.length]!, children: children as WbxmlNode[] };
  }),
})).node as fc.Arbitrary<WbxmlElement>;

/** Splices of raw WBXML tokens: page switches, END, strings, opaque lengths, entities, the tokens that must be refused. */
const wbxmlSplice: fc.Arbitrary<readonly number[]> = fc.oneof<fc.Arbitrary<readonly number[]>[]>(
  fc.tuple(fc.nat(8), fc.integer({ min: 2, max: 16 })).map(([offset, n]) => Array.from({ length: n }, () => [0x83, offset]).flat()),
  fc.tuple(fc.constant(0x00), fc.nat(30)).map((b) => b),
  fc.constant([0x01]), fc.constant([0x01, 0x01]),
  fc.constant([0x03, 0x61, 0x00]), fc.constant([0x03, 0x61]),
  fc.tuple(fc.constant(0x83), fc.nat(40)).map((b) => b), fc.constant([0x83, 0xff, 0xff, 0xff, 0xff, 0x7f]),
  fc.constant([0xc3, 0x85, 0x00]), fc.constant([0xc3, 0x8f, 0xff, 0xff, 0xff, 0x7f]), fc.constant([0xc3, 0x03, 0x41, 0x42, 0x43]),
  fc.constant([0x02, 0x41]), fc.constant([0x02, 0xc4, 0x80, 0x00]), fc.constant([0x02, 0x8f, 0xff, 0xff, 0xff, 0x7f]),
  fc.constantFrom([0x04], [0x40], [0x41], [0x42], [0x43], [0x44], [0x80], [0x81], [0x82], [0x84], [0xc0], [0xc1], [0xc2], [0xc4], [0x85], [0xc5]),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map((a) => [...a]),
);
type ByteMutation = { kind: 'flip'; at: number; bit: number } | { kind: 'cut'; at: number } | { kind: 'splice'; at: number; bytes: readonly number[] } | { kind: 'dup'; at: number; len: number };
const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(2000), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(2000) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(2000), bytes: wbxmlSplice }),
  fc.record({ kind: fc.constant('dup' as const), at: fc.nat(2000), len: fc.integer({ min: 1, max: 64 }) }),
);
/** Headers: the one clients send, other versions and public ids, and string tables (which STR_T points into). */
const wbxmlHeader: fc.Arbitrary<readonly number[]> = fc.oneof(
  { weight: 4, arbitrary: fc.constant([0x03, 0x01, 0x6a, 0x00]) },
  fc.constantFrom([0x03, 0x01, 0x00, 0x00], [0x02, 0x01, 0x6a, 0x00], [0x04, 0x01, 0x6a, 0x00], [0x03, 0x00, 0x00, 0x6a, 0x00], [0x03, 0x01, 0x04, 0x00], [0x03, 0x01, 0x6a, 0x8f, 0xff, 0xff, 0xff, 0x7f]),
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('a', 'a', 'a', 'b', '\0'), minLength: 1, maxLength: 40 }) }.arbitrary.map((t) => [0x03, 0x01, 0x6a, t.length, ...Buffer.from(t, 'latin1')]),
);

/** Turns each inline string `@Tn@` the encoder wrote into the token STR_T n (clients may use string tables). */
function withTableRefs(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = buf.indexOf('\x03@T', 0, 'latin1'); at >= 0; at = buf.indexOf('\x03@T', from, 'latin1')) {
    const end = buf.indexOf(0, at);
    const m = TABLE_REF.exec(buf.toString('latin1', at + 1, end));
    if (!m) break;
    parts.push(buf.subarray(from, at), Buffer.from([0x83, Number(m[1])]));
    from = end + 1;
  }
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}

function spliceBytes(buf: Buffer, ms: ByteMutation[]): Buffer {
  let b = buf;
  for (const m of ms) {
    const at = b.length ? m.at % (b.length + 1) : 0;
    if (m.kind === 'flip' && at < b.length) {
      b = Buffer.from(b);
      b[at] = b[at]! ^ (1 << m.bit);
    } else if (m.kind === 'cut') b = b.subarray(0, at);
    else if (m.kind === 'splice') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else if (m.kind === 'dup') b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + m.len), b.subarray(at)]);
  }
  return b;
}

/**
 * What the tree holds (text in UTF-16 units as held in memory, opaque bytes, one per element): at
 * most twice the document's bytes (see tableBudget in codec.ts). (Text is measured in units, not re-encoded: a malformed UTF-8 byte
 * decodes to U+FFFD, one unit but three bytes again.)
 */
function wbxmlSize(e: WbxmlElement): number {
  let n = 1;
  for (const c of e.children) n += typeof c === 'string' ? c.length : Buffer.isBuffer(c) ? c.length : wbxmlSize(c);
  return n;
}

/** A tree as encode() leaves it to decode(): empty strings dropped. */
function normalise(e: WbxmlElement): unknown {
  return { page: e.page, tag: e.tag, children: e.children.filter((c) => c !== '').map((c) => (typeof c === 'string' ? c : Buffer.isBuffer(c) ? `opaque:${c.toString('hex')}` : normalise(c))) };
}

export const wbxmlTarget: FuzzTarget<{ tree: WbxmlElement; header: readonly number[]; mutations: ByteMutation[] }> = {
  name: 'activesync-wbxml',
  arbitrary: fc.record({ tree: wbxmlTree, header: wbxmlHeader, mutations: fc.array(byteMutation, { maxLength: 3 }) }),
  check({ tree, header, mutations }) {
    // fast-check replays saved inputs as JSON: Buffers come back as { type: 'Buffer', data }
    const revive = (e: WbxmlElement): WbxmlElement => ({ ...e, children: e.children.map((c) => (typeof c === 'string' ? c : Buffer.isBuffer(c) ? c : 'type' in c && (c as { type: unknown }).type === 'Buffer' ? Buffer.from((c as unknown as { data: number[] }).data) : revive(c))) });
    tree = revive(tree);
    let encoded: Buffer;
    try {
      encoded = encode(tree);
    } catch (err) {
      if (/NUL in a string/.test((err as Error).message)) return;
      throw err;
    }
    const doc = spliceBytes(Buffer.concat([Buffer.from(header), withTableRefs(encoded.subarray(4))]), mutations);
    let out: WbxmlElement | null = null;
    try {
      out = decode(doc);
    } catch (err) {
      if (!(err instanceof WbxmlError)) throw err;
    }
    if (out) {
      const size = wbxmlSize(out);
      // inline content is at most its bytes; string-table references at most the document's size again
      if (size > 2 * doc.length) throw new Error(`the tree holds ${size} units from a document of ${doc.length} bytes`);
    }
    if (!mutations.length && header.join() === '3,1,106,0' && !JSON.stringify(tree).includes('@T')) {
      if (!out) throw new Error('an encoded document did not decode');
      if (JSON.stringify(normalise(out)) !== JSON.stringify(normalise(tree))) throw new Error('decode(encode(tree)) is not the tree');
    }
  },
};
