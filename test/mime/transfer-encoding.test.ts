import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTransfer } from '../../src/mime/transfer-encoding.js';

const decode = (body: string, encoding: string) => decodeTransfer(Buffer.from(body, 'latin1'), encoding)?.toString('latin1') ?? null;

test('identity encodings return the bytes unchanged', () => {
  for (const e of ['7bit', '8bit', 'binary', '', 'BINARY']) assert.equal(decode('a=41\r\n\xe4', e), 'a=41\r\n\xe4', e);
});

test('base64 ignores line breaks and stray characters', () => {
  assert.equal(decode('SGVs\r\nbG8g\r\n4pyT\r\n', 'base64'), Buffer.from('Hello ✓').toString('latin1'));
  assert.equal(decode('SGVs*bG8=\r\n', 'Base64'), 'Hello');
});

test('quoted-printable: escapes, soft line breaks, malformed escapes kept', () => {
  assert.equal(decode('Gr=C3=BC=c3=9fe', 'quoted-printable'), Buffer.from('Grüße').toString('latin1'));
  assert.equal(decode('one =  \r\ntwo=\nthree=', 'quoted-printable'), 'one twothree');
  assert.equal(decode('100=%, =ZZ and =4', 'quoted-printable'), '100=%, =ZZ and =4');
});

test('an unknown encoding is null, so the caller decides', () => {
  assert.equal(decode('x', 'x-uuencode'), null);
});
