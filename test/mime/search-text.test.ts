import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/mime/structure.js';
import { bodyText, decodeHeaderValue, headerValues } from '../../src/mime/search-text.js';
import { load } from './corpus.js';

const text = (file: string): string => {
  const raw = load(file);
  return bodyText(raw, parseMessage(raw));
};

test('decodeHeaderValue decodes RFC 2047 words', () => {
  assert.equal(decodeHeaderValue('=?UTF-8?B?SGVsbG8g4pyT?= and =?UTF-8?Q?more_=E2=9C=93?='), 'Hello ✓ and more ✓');
  assert.equal(decodeHeaderValue('=?ISO-8859-1?Q?Andr=E9?= Pirard'), 'André Pirard');
  assert.equal(decodeHeaderValue('plain'), 'plain');
});

test('headerValues: top level only, case-insensitive, unfolded', () => {
  const raw = load('encoded-subject.eml');
  assert.deepEqual(headerValues(raw, 'SUBJECT'), ['=?UTF-8?B?SGVsbG8g4pyT?= and =?UTF-8?Q?more_=E2=9C=93?=']);
  assert.deepEqual(headerValues(raw, 'x-missing'), []);
  // The encapsulated message's Subject is not a top-level header.
  assert.deepEqual(headerValues(load('rfc822-attachment.eml'), 'subject'), ['Fwd: original']);
  const multi = Buffer.from('Received: one\r\nReceived: two\r\n\tfolded\r\n\r\nbody');
  assert.deepEqual(headerValues(multi, 'received'), ['one', 'two\tfolded']);
  assert.deepEqual(headerValues(load('eightbit-header.eml'), 'subject'), ['Grüße aus Köln']);
});

test('bodyText decodes transfer encodings and charsets, strips html', () => {
  assert.equal(text('alternative.eml'), 'plain text\nhtml = text');
  assert.equal(text('lf-only.eml'), 'line one\nline two\nCafé'); // base64 + iso-8859-1
  assert.equal(text('encoded-subject.eml'), 'Grüße\r\n'); // 8bit utf-8
  assert.equal(text('missing-content-type.eml'), 'café softbreak\r\n'); // QP with soft line break
  assert.equal(text('rfc822-attachment.eml'), 'See below.\nOriginal body.'); // encapsulated text included
  assert.equal(text('mixed-attachment.eml'), 'See the attached report.\r\n'); // the pdf is not text
});
