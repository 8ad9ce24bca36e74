import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readingDocument, sanitiseHtml } from '../../src/web/owa/sanitise.js';
import { xssCorpus } from './xss-corpus.js';

const R = 'http://127.0.0.1:9/rec';

test('the sanitiser removes every active construct of the XSS corpus', () => {
  for (const [name, payload] of xssCorpus(R)) {
    const { html } = sanitiseHtml(`<p>ok</p>${payload}`, { showImages: false });
    assert.doesNotMatch(html, /<\s*(script|style|svg|math|iframe|object|embed|form|input|button|meta|base|link|video|source|details)\b/i, name);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, name);
    assert.doesNotMatch(html, /javascript:|expression\s*\(|url\s*\(/i, name);
    assert.doesNotMatch(html, /data:image\/svg/i, name);
    assert.doesNotMatch(html, new RegExp(R.replace(/[.:/]/g, '\\$&')), `${name}: no request to the recorder can be made`);
    assert.match(html, /<p>ok<\/p>/, name);
  }
});

test('remote images are blocked until asked for; bitmap data: images and safe styles stay', () => {
  const input = `<img src="https://tracker.example/p.gif"><img src="data:image/png;base64,iVBORw0KGgo="><p style="color: red; position: fixed; font-weight: bold">x</p><a href="https://example.org/">link</a>`;
  const blocked = sanitiseHtml(input, { showImages: false });
  assert.equal(blocked.remoteImages, 1);
  assert.doesNotMatch(blocked.html, /tracker\.example/);
  assert.match(blocked.html, /data-mw-blocked="1"/);
  assert.match(blocked.html, /src="data:image\/png;base64,iVBORw0KGgo="/);
  assert.match(blocked.html, /style="color:red;font-weight:bold"/);
  assert.match(blocked.html, /<a href="https:\/\/example.org\/" target="_blank" rel="noopener noreferrer">/);
  const shown = sanitiseHtml(input, { showImages: true });
  assert.match(shown.html, /src="https:\/\/tracker\.example\/p\.gif"/);
});

test('the reading document forbids scripts and (unless asked) remote images by its own CSP', () => {
  const doc = readingDocument('<p>x</p>', false);
  assert.match(doc, /default-src 'none'/);
  assert.match(doc, /img-src data:;/);
  assert.doesNotMatch(doc, /script-src/);
  assert.match(readingDocument('<p>x</p>', true), /img-src data: https: http:;/);
});
