import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CODE_PAGES } from '../../src/protocols/activesync/wbxml/code-pages.js';
import { decode, el, encode, text, child, WbxmlError, type WbxmlElement } from '../../src/protocols/activesync/wbxml/codec.js';
import { toXml } from '../../src/protocols/activesync/wbxml/xml.js';
import { libwbxmlDecode, libwbxmlEncode } from './libwbxml.js';

test('every tag of every code page encodes to the token libwbxml2 gives it, and decodes back', () => {
  for (const page of CODE_PAGES) {
    // RightsManagementInformation (14.1) is newer than libwbxml 0.11.8's tables
    const names = Object.values(page.tags).filter((n) => n !== 'RightsManagementInformation');
    // the first tag of the page holds one empty element of every tag, one of them with text
    const doc = el(page.name, names[0]!, names.map((n, i) => el(page.name, n, i === 1 ? 'x' : undefined)));
    const ours = encode(doc);
    const theirs = libwbxmlEncode(toXml(doc));
    assert.equal(ours.toString('hex'), theirs.toString('hex'), `code page ${page.number} ${page.name}`);
    assert.deepEqual(decode(theirs), doc);
  }
});

test('a Sync request across pages is byte for byte what xml2wbxml writes; libwbxml reads ours back', () => {
  const doc = el('AirSync', 'Sync', [el('AirSync', 'Collections', [el('AirSync', 'Collection', [
    el('AirSync', 'SyncKey', '0'), el('AirSync', 'CollectionId', '1'), el('AirSync', 'GetChanges'), el('AirSync', 'WindowSize', 50),
    el('AirSync', 'Options', [el('AirSync', 'FilterType', '0'), el('AirSyncBase', 'BodyPreference', [el('AirSyncBase', 'Type', '2'), el('AirSyncBase', 'TruncationSize', '5120')])]),
    el('AirSync', 'Commands', [el('AirSync', 'Change', [el('AirSync', 'ServerId', 'M1a'), el('AirSync', 'ApplicationData', [el('Email', 'Read', '1'), el('Email', 'Flag', [el('Email', 'FlagStatus', '2'), el('Email2', 'ConversationIndex', Buffer.from([0, 1, 2, 0xff])), el('Email', 'Subject', 'ü & <é>')])])])]),
  ])])]);
  const ours = encode(doc);
  assert.equal(ours.subarray(0, 4).toString('hex'), '03016a00');
  assert.equal(ours.toString('hex'), libwbxmlEncode(toXml(doc)).toString('hex'));
  const back = libwbxmlDecode(ours);
  assert.match(back, /<Subject>ü &amp; &lt;é&gt;<\/Subject>/);
  assert.deepEqual(decode(ours), doc);
});

test('opaque data round-trips and libwbxml reads it', () => {
  const mime = Buffer.from('From: a@example.com\r\nSubject: x\r\n\r\nbody \0 with NUL\r\n');
  const doc = el('ComposeMail', 'SendMail', [el('ComposeMail', 'ClientId', '1'), el('ComposeMail', 'SaveInSentItems'), el('ComposeMail', 'Mime', mime)]);
  const bytes = encode(doc);
  const back = decode(bytes);
  assert.deepEqual(child(back, 'Mime')!.children[0], mime);
  assert.match(libwbxmlDecode(bytes), /<SendMail xmlns="ComposeMail:">/);
});

test('string-table references and a public id in the string table (what xml2wbxml writes by default) decode', () => {
  // 03 00 00 6A: public id in the string table at 0; table "-//…" ; STR_T at offset 0 inside <SyncKey>
  const pub = Buffer.from('-//MICROSOFT//DTD ActiveSync//EN\0');
  const table = Buffer.concat([pub, Buffer.from('42\0')]);
  const doc = Buffer.concat([Buffer.from([0x03, 0x00, 0x00, 0x6a, table.length]), table, Buffer.from([0x45, 0x4b, 0x83, pub.length, 0x01, 0x01])]);
  const e = decode(doc);
  assert.equal(text(child(e, 'SyncKey')), '42');
});

test('malformed or oversized input is a WbxmlError, never a crash or a partial tree', () => {
  const good = encode(el('AirSync', 'Sync', [el('AirSync', 'SyncKey', '1')]));
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['header only', Buffer.from([3, 1, 0x6a, 0])],
    ['truncated', good.subarray(0, good.length - 1)],
    ['trailing bytes', Buffer.concat([good, Buffer.from([0x45])])],
    ['unknown page', Buffer.from([3, 1, 0x6a, 0, 0x00, 0x63, 0x45, 0x01])],
    ['unknown tag', Buffer.from([3, 1, 0x6a, 0, 0x3f])],
    ['attributes', Buffer.from([3, 1, 0x6a, 0, 0xc5, 0x01, 0x01])],
    ['literal', Buffer.from([3, 1, 0x6a, 0, 0x04, 0x00])],
    ['unterminated string', Buffer.from([3, 1, 0x6a, 0, 0x45, 0x03, 0x41])],
    ['opaque longer than input', Buffer.from([3, 1, 0x6a, 0, 0x45, 0xc3, 0x8f, 0x7f, 0x41])],
    ['string table past the end', Buffer.from([3, 1, 0x6a, 0x7f])],
    ['endless multi-byte integer', Buffer.from([3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['END at top level', Buffer.from([3, 1, 0x6a, 0, 0x01])],
    ['text at top level', Buffer.from([3, 1, 0x6a, 0, 0x03, 0x41, 0x00])],
    ['wrong charset', Buffer.from([3, 1, 0x04, 0, 0x05])],
  ];
  for (const [what, b] of bad) assert.throws(() => decode(b), WbxmlError, what);

  let deep: WbxmlElement = el('AirSync', 'SyncKey', '1');
  for (let i = 0; i < 40; i++) deep = el('AirSync', 'Collection', [deep]);
  assert.throws(() => decode(encode(deep)), /nesting deeper than 32/);
  const many = el('AirSync', 'Sync', Array.from({ length: 1001 }, () => el('AirSync', 'GetChanges')));
  assert.throws(() => decode(encode(many), { maxBytes: 1e6, maxDepth: 32, maxElements: 1000 }), /more than 1000 elements/);
  assert.throws(() => decode(good, { maxBytes: 4, maxDepth: 32, maxElements: 10 }), /over the limit of 4/);
});

test('string-table references may repeat a string but never expand a document past twice its size (issue 14, found by the fuzzer)', () => {
  // libwbxml names a repeated string more than once: still read
  const table = Buffer.from('Email\0');
  const repeated = Buffer.concat([Buffer.from([0x03, 0x01, 0x6a, table.length]), table, Buffer.from([0x45, 0x4b, 0x83, 0x00, 0x83, 0x00, 0x83, 0x00, 0x01, 0x01])]);
  assert.equal(text(child(decode(repeated), 'SyncKey')), 'EmailEmailEmail');
  // a 1,000-byte string named 2,000 times in 4 KB would be 2 MB of text: refused
  const big = Buffer.concat([Buffer.from('a'.repeat(1000)), Buffer.from([0])]);
  const refs = Buffer.from(Array.from({ length: 2000 }, () => [0x83, 0x00]).flat());
  const bomb = Buffer.concat([Buffer.from([0x03, 0x01, 0x6a, 0x87, 0x69]), big, Buffer.from([0x45, 0x4b]), refs, Buffer.from([0x01, 0x01])]);
  assert.equal(big.length, 0x3e9);
  assert.throws(() => decode(bomb), /string table references add up to more text than the document size/);
});
