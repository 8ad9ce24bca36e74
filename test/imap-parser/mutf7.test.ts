import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeMutf7, encodeMutf7 } from '../../src/protocols/imap/parser/mutf7.js';

const RFC_EXAMPLES: [string, string][] = [
  ['&Jjo-', '\u263a'],
  ['Entw&APw-rfe', 'Entwürfe'],
  ['~peter/mail/&U,BTFw-/&ZeVnLIqe-', '~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e'],
  ['&Jjo-!', '\u263a!'],
  ['Tom &- Jerry', 'Tom & Jerry'],
  ['INBOX', 'INBOX'],
  ['', ''],
];

test('RFC 3501 examples decode and encode both ways', () => {
  for (const [wire, text] of RFC_EXAMPLES) {
    assert.equal(decodeMutf7(wire), text, wire);
    assert.equal(encodeMutf7(text), wire, text);
  }
});

test('characters outside the BMP use surrogate pairs', () => {
  const s = 'Mail 📬 box';
  const wire = encodeMutf7(s);
  assert.equal(wire, 'Mail &2D3c7A- box');
  assert.equal(decodeMutf7(wire), s);
});

test('invalid encodings give null', () => {
  for (const s of [
    '&Jjo', // unterminated shift
    '&Jjo!', // missing "-" before ASCII
    '&U,BTFw-&ZeVnLIqe-', // superfluous shift between two runs
    '&AGE-', // encodes printable ASCII "a"
    '&ACY-', // "&" must be "&-"
    '&A-', // too few bits for a character
    '&Jjp-', // non-zero padding bits
    '&Jj=-', // not base64
    '&Jj/-', // "/" is "," in modified base64
    '&2D0-', // lone high surrogate
    '&3GQ-', // lone low surrogate
    'Entwürfe', // raw 8-bit
    'tab\there', // raw control
  ]) {
    assert.equal(decodeMutf7(s), null, s);
  }
});

test('property: decode(encode(s)) === s and encoding is printable ASCII', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
      const wire = encodeMutf7(s);
      assert.match(wire, /^[\x20-\x7e]*$/);
      assert.equal(decodeMutf7(wire), s);
    }),
    { numRuns: 500 },
  );
});
