// Issue 14 item 7: a relative link in a mail must not open under the web mail's own origin. The
// sanitiser keeps only absolute http(s)/mailto links (with target=_blank); relative ones keep
// their text and lose href and target. Checked in Chromium: clicking the relative links opens
// nothing; the next popup is the absolute link's (an event, not a wait).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { Browser } from 'playwright-core';
import { deliver, launchBrowser, mail, startOwaServer, type OwaTestServer } from './helpers.js';
import { sanitiseHtml } from '../../src/web/owa/sanitise.js';

let srv: OwaTestServer;
let browser: Browser;
let outside: Server;

before(async () => {
  srv = await startOwaServer({ plaintext: true });
  browser = await launchBrowser();
  outside = createServer((_req, res) => res.end('outside')).listen(0, '127.0.0.1');
  await new Promise((r) => outside.once('listening', r));
});

after(async () => {
  await browser?.close();
  outside?.close();
  await srv?.close();
});

test('the sanitiser drops href and target of relative links and keeps absolute ones', () => {
  const { html } = sanitiseHtml('<a href="inbox.html">a</a><a href="/owa/api/folders">b</a><a href="?x=1">c</a><a href="#top">d</a><a href="//evil.example/">e</a><a href="https://example.com/x">f</a><a href="mailto:a@example.com">g</a>', { showImages: false });
  assert.equal(html, '<a>a</a><a>b</a><a>c</a><a>d</a><a>e</a><a href="https://example.com/x" target="_blank" rel="noopener noreferrer">f</a><a href="mailto:a@example.com" target="_blank" rel="noopener noreferrer">g</a>');
});

test('in Chromium, relative links in a mail open nothing under our origin', { timeout: 180_000 }, async () => {
  const alice = await srv.addUser('alice@example.com');
  const port = (outside.address() as { port: number }).port;
  const out = `http://127.0.0.1:${port}/landing`;
  await deliver(srv, alice, mail({
    to: alice.address, subject: 'Links inside',
    html: `<p><a href="settings">relative one</a> <a href="/owa/">root relative</a> <a href="?folder=INBOX">query only</a> <a href="${out}">outside link</a></p>`,
  }));
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    const page = await context.newPage();
    await page.goto(`https://127.0.0.1:${srv.port('https')}/owa/`);
    await page.fill('input[name=address]', alice.address);
    await page.fill('input[name=password]', 'secret-pw');
    await page.click('button:has-text("Sign in")');
    await page.click('.row:has-text("Links inside")');
    const frame = page.frameLocator('iframe.mail-body');
    await frame.locator('text=outside link').waitFor();
    for (const text of ['relative one', 'root relative', 'query only']) {
      const a = frame.locator(`a:has-text("${text}")`);
      assert.equal(await a.getAttribute('href'), null, text);
      assert.equal(await a.getAttribute('target'), null, text);
    }
    const popups: string[] = [];
    context.on('page', (p) => popups.push(p.url()));
    for (const text of ['relative one', 'root relative', 'query only']) await frame.locator(`a:has-text("${text}")`).click();
    // the absolute link opens a tab; it must be the first (and only) one opened
    const [popup] = await Promise.all([context.waitForEvent('page'), frame.locator('a:has-text("outside link")').click()]);
    await popup.waitForLoadState();
    assert.equal(popup.url(), out);
    assert.equal(popups.length, 1, popups.join(' '));
    assert.ok(!page.url().includes('settings') && !page.url().includes('folder='), page.url());
  } finally {
    await context.close();
  }
});
