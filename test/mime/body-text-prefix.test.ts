import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMessage } from '../../src/mime/structure.js';
import { bodyText, bodyTextPrefix } from '../../src/mime/search-text.js';
import { preview } from '../../src/store/analyse.js';
import { makeMixedMessages } from '../../bench/lib/mixed-messages.js';

/** The preview made from the prefix must be the preview of the whole text, for any message. */
const same = (m: Buffer) => {
  const s = parseMessage(m);
  assert.equal(preview(bodyTextPrefix(m, s, 200), 200), preview(bodyText(m, s), 200));
};
const html = (body: string) => Buffer.from(`Content-Type: text/html; charset=utf-8\r\n\r\n${body}`);

describe('bodyTextPrefix (the preview reads only the start of the text)', () => {
  it('gives the same preview as the whole text for the benchmark mix (plain, HTML, attachments, nested)', () => {
    for (const m of makeMixedMessages(120, 4096, 90 * 1024, 7, 'p', () => 'u@x.test')) same(m);
  });

  it('and for HTML whose text starts late: long style, comment, script, whitespace, entities, ">" in attributes', () => {
    same(html(`<html><head><style>${'p{color:red}\n'.repeat(2000)}</style></head><body>${'<p>hello &amp; world</p>'.repeat(50)}</body></html>`));
    same(html(`${' '.repeat(10000)}<p>x</p>${'<br>'.repeat(5000)}tail text here`));
    same(html(`<!-- ${'c'.repeat(20000)} --> <b>after</b> ${'word '.repeat(100)}`));
    same(html(`<p title="a>b">${'&#x263A; smile '.repeat(3000)}</p>`));
    same(html(`<SCRIPT>${'var a = 1;'.repeat(3000)}</script >${'t '.repeat(500)}`));
    same(html('short'));
  });

  it('and for generated HTML', () => {
    const piece = fc.constantFrom('<p>', '</p>', '<b>', '<style>a{}</style>', '<style>', '</style>', '<!--', '-->', '&amp;', '&#65;', ' ', '\r\n', 'word', '<a href="x>y">', '>', '<', 'é');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 3000 }), fc.integer({ min: 0, max: 6000 }), (parts, pad) => same(html(' '.repeat(pad) + parts.join('')))),
      { numRuns: 200 },
    );
  });
});
