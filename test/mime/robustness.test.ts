// Broken input must never throw (the parser runs at delivery), and ranges must stay sane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type MessageStructure, type MimePart } from '../../src/mime/structure.js';
import { renderBodyStructure, renderEnvelope } from '../../src/mime/imap-render.js';
import { extractSection, parseSectionSpec } from '../../src/mime/section.js';
import { bodyText } from '../../src/mime/search-text.js';
import { corpusFiles, load } from './corpus.js';

function checkRanges(p: MimePart, start: number, end: number): void {
  assert.ok(start <= p.headerStart && p.headerStart <= p.headerEnd, 'header range');
  assert.equal(p.headerEnd, p.bodyStart);
  assert.ok(p.bodyStart <= p.bodyEnd && p.bodyEnd <= end, 'body range');
  for (const c of p.parts ?? []) checkRanges(c, p.bodyStart, p.bodyEnd);
  if (p.message) checkRanges(p.message.root, p.bodyStart, p.bodyEnd);
}

function exercise(raw: Buffer): MessageStructure {
  const s = parseMessage(raw);
  checkRanges(s.root, 0, raw.length);
  for (const ext of [false, true]) {
    const bs = renderBodyStructure(s.root, ext);
    assert.equal(bs[0], '(');
  }
  renderEnvelope(s.envelope);
  bodyText(raw, s);
  for (const spec of ['', '1', '1.MIME', '2.HEADER', '1.1', 'HEADER.FIELDS (From)', 'TEXT']) {
    extractSection(raw, s, parseSectionSpec(spec)!);
  }
  return s;
}

test('every truncation of every corpus message parses', () => {
  for (const f of corpusFiles()) {
    const raw = load(f);
    for (let n = 0; n <= raw.length; n++) exercise(raw.subarray(0, n));
  }
});

test('random bytes and MIME-ish noise parse', () => {
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const atoms = ['\r\n', '\n', '--b', '--b--', 'Content-Type: multipart/mixed; boundary=b', 'Content-Type: message/rfc822',
    ': ', ' ', '\t', '"', '(', ')', '<', '>', '@', ',', ';', 'From: ', 'x', '\x00', '\xff', '=?utf-8?q?', '?='];
  for (let i = 0; i < 2000; i++) {
    let s = '';
    const len = Math.floor(rnd() * 60);
    for (let j = 0; j < len; j++) s += atoms[Math.floor(rnd() * atoms.length)];
    exercise(Buffer.from(s, 'latin1'));
  }
});

test('deep nesting is capped instead of overflowing the stack', () => {
  let s = '';
  for (let i = 0; i < 5000; i++) s += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
  const raw = Buffer.from(s + '\r\nleaf\r\n');
  exercise(raw);
  let deep = '';
  for (let i = 0; i < 5000; i++) deep += 'Content-Type: message/rfc822\r\n\r\n';
  exercise(Buffer.from(deep + 'Subject: bottom\r\n\r\nleaf'));
});

test('large attachment is handled quickly', () => {
  const big = Buffer.alloc(20 * 1024 * 1024, 'QUJD\r\n');
  const head = Buffer.from('Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Transfer-Encoding: base64\r\nContent-Type: application/x\r\n\r\n');
  const raw = Buffer.concat([head, big, Buffer.from('\r\n--q--\r\n')]);
  const t = Date.now();
  const s = parseMessage(raw);
  // a parse quadratic in the size takes far longer than this on 20 MB; a linear one (~0.2 s) stays
  // far below it even on a loaded machine: a bound that catches the bug, not a speed requirement
  assert.ok(Date.now() - t < 60_000);
  assert.equal(s.root.parts![0]!.bodyEnd - s.root.parts![0]!.bodyStart, big.length);
});
