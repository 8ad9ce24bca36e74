import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { eventually } from '../helpers/server.js';
import type { User } from '../../src/store/types.js';
import { addAdmin, ARTIFACTS, deliver, launchBrowser, mail, startOwaServer, type OwaTestServer } from './helpers.js';
import { simpleParser } from 'mailparser';
import { xssMessageHtml } from './xss-corpus.js';

let srv: OwaTestServer;
let alice: User;
let bob: User;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let recorder: Server;
let R: string;
const hits: string[] = [];
const dialogs: string[] = [];

/** A plain HTTP server that records every request: a payload that ran would show up here. */
function startRecorder(): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer((req, res) => {
      hits.push(req.url ?? '');
      const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
      res.writeHead(200, { 'access-control-allow-origin': '*', 'content-type': req.url?.endsWith('.png') ? 'image/png' : 'text/plain' });
      res.end(req.url?.endsWith('.png') ? png : 'ok');
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

const shot = (name: string, p: Page = page) => p.screenshot({ path: join(ARTIFACTS, `owa-${name}.png`), fullPage: true });

async function signIn(p: Page, address: string) {
  await p.goto(`https://127.0.0.1:${srv.port('https')}/owa/`);
  await p.fill('input[name=address]', address);
  await p.fill('input[name=password]', 'secret-pw');
  await p.click('button:has-text("Sign in")');
  await p.waitForSelector('button[data-folder="INBOX"]', { state: 'attached' });
}

async function openFolder(name: string) {
  await page.click(`button[data-folder="${name}"]`);
  await page.waitForSelector(`button[data-folder="${name}"][aria-current="true"]`);
}

before(async () => {
  srv = await startOwaServer({ plaintext: true });
  alice = await srv.addUser('alice@example.com');
  bob = await srv.addUser('bob@example.com');
  recorder = await startRecorder();
  const addr = recorder.address();
  R = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  browser = await launchBrowser();
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
});

after(async () => {
  await browser?.close();
  recorder?.close();
  await srv?.close();
});

test('sign in shows the folder tree with unread counts', async () => {
  await deliver(srv, alice, mail({ to: alice.address, subject: 'Welcome aboard', body: 'Plain text body\nsecond line' }));
  await signIn(page, alice.address);
  await page.waitForSelector('button[data-folder="INBOX"] .unread');
  assert.equal((await page.textContent('button[data-folder="INBOX"] .unread'))?.trim(), '1');
  for (const f of ['Drafts', 'Sent Items', 'Deleted Items', 'Junk Email']) assert.ok(await page.$(`button[data-folder="${f}"]`), f);
  assert.equal((await srv.ctx.governor.counts(alice.id)).byKind.owa, 1);
  await page.click('.row:has-text("Welcome aboard")');
  await page.waitForSelector('pre.mail-text:has-text("second line")');
  await eventually(async () => (await page.$('button[data-folder="INBOX"] .unread')) === null, 'read clears the unread count');
  await shot('signed-in');
});

test('an HTML message with an XSS corpus renders its text and executes nothing; remote images wait for "Show images"', async () => {
  await deliver(srv, alice, mail({ to: alice.address, subject: 'Totally harmless newsletter', html: xssMessageHtml(R) }));
  await page.waitForSelector('.row:has-text("Totally harmless newsletter")'); // pushed, no reload
  await page.click('.row:has-text("Totally harmless newsletter")');
  const frame = page.frameLocator('iframe.mail-body');
  await frame.locator('text=Visible marker text').waitFor();
  const sandbox = await page.getAttribute('iframe.mail-body', 'sandbox');
  assert.ok(sandbox !== null && !sandbox.includes('allow-scripts') && !sandbox.includes('allow-same-origin'));
  // poke what a user might poke (the sanitiser left the link text but not its javascript: URL)
  await frame.locator('text=click me').click();
  await frame.locator('text=Go').click();
  await page.waitForTimeout(1500);
  assert.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined);
  assert.deepEqual([...hits], [], 'nothing reached the recorder');
  assert.deepEqual(dialogs, []);
  assert.ok(await page.$('text=Pictures from the internet have been blocked'));
  await shot('xss-message');

  await page.click('button:has-text("Show images")');
  await eventually(() => hits.includes('/remote.png'), 'the remote image loads once asked for');
  await page.waitForTimeout(500);
  assert.deepEqual(hits.filter((h) => h !== '/remote.png'), [], 'still nothing else');
  assert.equal(await page.evaluate(() => (window as unknown as { __xss?: string }).__xss), undefined);
});

test('compose with an attachment to a second user, who receives it over POP3; a copy lands in Sent Items', async () => {
  await page.click('button:has-text("New mail")');
  await page.fill('input[name=to]', `Bob <${bob.address}>`);
  await page.fill('input[name=subject]', 'Budget figures');
  await page.fill('.editor', 'Hi Bob, the numbers are attached.');
  await page.setInputFiles('input[type=file]', { name: 'budget.csv', mimeType: 'text/csv', buffer: Buffer.from('q1,100\nq2,250\n') });
  await page.waitForSelector('.compose li:has-text("budget.csv")');
  await shot('compose');
  await page.click('.compose button:has-text("Send")');
  await page.waitForSelector('.toast:has-text("Your message has been sent.")');

  const script = [
    'import poplib, sys',
    'p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=600)',
    'p.user(sys.argv[2]); p.pass_(sys.argv[3])',
    'n = len(p.list()[1])',
    'for i in range(n): print("\\n".join(l.decode("latin1") for l in p.retr(i + 1)[1]))',
    'p.quit()',
  ].join('\n');
  const { stdout } = await promisify(execFile)('python3', ['-c', script, String(srv.port('pop3')), bob.address, 'secret-pw']);
  assert.match(stdout, /^Subject: Budget figures$/m);
  assert.match(stdout, /filename=budget\.csv/);
  assert.match(stdout, new RegExp(Buffer.from('q1,100\nq2,250\n').toString('base64').slice(0, 12).replace(/[+/]/g, '\\$&')));

  await openFolder('Sent Items');
  await page.waitForSelector('.row:has-text("Budget figures")');
});

test('rich text: Ctrl+B while typing sends bold text, which the recipient reads bold; a reply on a phone quotes it and adds a link', async () => {
  await page.click('button:has-text("New mail")');
  await page.fill('input[name=to]', bob.address);
  await page.fill('input[name=subject]', 'Formatting check');
  await page.click('.editor');
  await page.keyboard.type('Normal start ');
  await page.keyboard.press('Control+B');
  assert.equal(await page.getAttribute('.editor-toolbar button[aria-label^="Bold"]', 'aria-pressed'), 'true');
  await page.keyboard.type('strong claim');
  await page.keyboard.press('Control+B');
  await page.keyboard.type(' normal end');
  assert.equal(await page.getAttribute('.editor-toolbar button[aria-label^="Bold"]', 'aria-pressed'), 'false');
  await page.keyboard.press('Enter');
  await page.keyboard.type('a listed point');
  // the list command keeps the caret where it was (Chromium's own moves it to the line's start)
  await page.click('.editor-toolbar button[aria-label="Bulleted list"]');
  await page.keyboard.type(', continued');
  assert.equal(await page.getAttribute('.editor-toolbar button[aria-label="Bulleted list"]', 'aria-pressed'), 'true');
  await shot('rich-compose');
  await page.click('.compose button:has-text("Send")');
  await page.waitForSelector('.toast:has-text("Your message has been sent.")');
  await deliver(srv, bob, mail({ to: bob.address, subject: 'Plain original', body: 'Line one <b>not bold</b>\nLine two' }));

  const phone = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  try {
    await signIn(p, bob.address);
    // a plain-text original is quoted as text: its markup-looking words stay words
    await p.tap('.row:has-text("Plain original")');
    await p.click('.reader .toolbar button:text-is("Forward")');
    await p.waitForSelector('.editor blockquote');
    assert.equal(await p.textContent('.editor blockquote'), 'Line one <b>not bold</b>Line two');
    assert.equal(await p.locator('.editor blockquote b').count(), 0);
    assert.equal(await p.locator('.editor blockquote br').count(), 1);
    assert.match(await p.textContent('.editor') ?? '', /-----Original Message-----.*Subject: Plain original/);
    await p.click('.compose button:has-text("Discard")');
    await p.click('.reader button:has-text("Back")');

    await p.tap('.row:has-text("Formatting check")');
    const body = p.frameLocator('iframe.mail-body');
    await body.locator(':is(b, strong):text-is("strong claim")').waitFor();
    assert.equal(await body.locator(':is(b, strong):has-text("Normal start")').count(), 0, 'only the text typed after Ctrl+B is bold');
    assert.equal(await body.locator('ul li').textContent(), 'a listed point, continued');
    await shot('rich-reader', p);

    // the reply quotes the original's HTML, formatting and all, under the header block
    await p.click('.reader .toolbar button:text-is("Reply")');
    await p.waitForSelector('.editor blockquote :is(b, strong):text-is("strong claim")');
    assert.match(await p.textContent('.editor') ?? '', /-----Original Message-----\s*From: .*alice@example\.com/);
    // on a phone the editor and its toolbar fit the screen
    for (const sel of ['.editor', '.editor-toolbar button[aria-label="Remove formatting"]']) {
      const box = (await p.locator(sel).boundingBox())!;
      assert.ok(box.x >= 0 && box.x + box.width <= 375, `${sel} fits: ${JSON.stringify(box)}`);
    }
    await p.focus('.editor'); // the caret goes to the start, above the quote
    await p.keyboard.type('See ');
    // a link address other than http(s)/mailto is refused; a bare host name becomes https://
    p.once('dialog', (d) => void d.accept('javascript:alert(1)'));
    await p.click('.editor-toolbar button[aria-label^="Insert link"]');
    await p.waitForSelector('.compose .error:has-text("A link must be")');
    assert.equal(await p.locator('.editor a').count(), 0);
    p.once('dialog', (d) => void d.accept('example.org/faq'));
    await p.click('.editor-toolbar button[aria-label^="Insert link"]');
    await p.waitForSelector('.editor a[href="https://example.org/faq"]');
    await shot('phone-rich-reply', p);
    await p.click('.compose button:has-text("Send")');
    await p.waitForSelector('.toast:has-text("Your message has been sent.")');
    await p.click('button:has-text("Sign out")');
  } finally {
    await phone.close();
  }
  const inbox = await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox');
  const reply = (await srv.ctx.store.listMessagePage(alice.id, inbox.id, 0, 1, 'RE: Formatting check')).items[0]!;
  const parsed = await simpleParser(await srv.ctx.store.readBlob(reply.blobHash));
  assert.match(String(parsed.html), /^<!doctype html>.*See\s<a href="https:\/\/example.org\/faq"[^>]*>example.org\/faq<\/a>.*<blockquote[^>]*>.*<b>strong claim<\/b>/s);
  assert.match(parsed.text ?? '', /^See\sexample.org\/faq \[https:\/\/example.org\/faq\]/);
  assert.match(parsed.text ?? '', /^> .*strong claim/m, 'the text part quotes with "> "');
});

test('save a draft; move, delete, flag, mark unread', async () => {
  await page.click('button:has-text("New mail")');
  await page.fill('input[name=to]', bob.address);
  await page.fill('input[name=subject]', 'Unfinished thoughts');
  await page.click('.editor');
  await page.keyboard.type('So far: ');
  await page.keyboard.press('Control+I');
  await page.keyboard.type('half an idea');
  await page.click('.compose button:has-text("Save draft")');
  await page.waitForSelector('.toast:has-text("Draft saved.")');
  await openFolder('Drafts');
  await page.click('.row:has-text("Unfinished thoughts")');
  // editing the draft again brings back its formatting, not just its words
  await page.click('.reader button:has-text("Edit draft")');
  await page.waitForSelector('.editor :is(i, em):text-is("half an idea")');
  assert.match(await page.textContent('.editor') ?? '', /^So far:\shalf an idea$/);
  await page.click('.compose button:has-text("Discard")');
  // a draft's own pictures come back for editing although the reading pane blocks them
  const drafts = await srv.ctx.store.getSpecialFolder(alice.id, '\\Drafts');
  await srv.ctx.store.append(alice.id, drafts.id, Buffer.from(mail({ from: alice.address, to: bob.address, subject: 'Draft with a picture', html: `<p>Chart: <img src="${R}/chart.png" alt="chart"></p>` }).replace(/\n/g, '\r\n')), { flags: ['\\Draft', '\\Seen'] });
  await page.click('.row:has-text("Draft with a picture")');
  await page.waitForSelector('text=Pictures from the internet have been blocked');
  await page.click('.reader button:has-text("Edit draft")');
  await page.waitForSelector(`.editor img[src="${R}/chart.png"]`);
  await page.click('.compose button:has-text("Discard")');

  await openFolder('INBOX');
  await page.click('.row:has-text("Welcome aboard")');
  await page.waitForSelector('.reader-subject:has-text("Welcome aboard")');
  await page.click('button:has-text("Flag")');
  await page.click('button:has-text("Mark as unread")');
  const inbox = await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox');
  await eventually(async () => {
    const m = (await srv.ctx.store.listMessagePage(alice.id, inbox.id, 0, 10, 'Welcome aboard')).items[0]!;
    return m.flags.includes('\\Flagged') && !m.flags.includes('\\Seen');
  }, 'flagged and unread');

  await page.selectOption('select[aria-label="Move to folder"]', { label: 'Junk Email' });
  await page.waitForSelector('.toast:has-text("Moved.")');
  await openFolder('Junk Email');
  await page.click('.row:has-text("Welcome aboard")');
  await page.click('.toolbar button:has-text("Delete")');
  await page.waitForSelector('.toast:has-text("Deleted.")');
  await openFolder('Deleted Items');
  await page.waitForSelector('.row:has-text("Welcome aboard")');
  await shot('deleted-items');
});

test('search finds by sender, subject and body within the folder, across 10,000+ messages', async () => {
  const inbox = await srv.ctx.store.getSpecialFolder(alice.id, '\\Inbox');
  const many = Array.from({ length: 10_050 }, (_, i) => Buffer.from(mail({ to: alice.address, subject: `Bulk ${i}`, body: `filler ${i}`, date: new Date(Date.UTC(2020, 0, 1) + i * 60_000).toUTCString() }).replace(/\n/g, '\r\n')));
  for (const raw of many) await srv.ctx.store.append(alice.id, inbox.id, raw, { flags: ['\\Seen'] });
  await deliver(srv, alice, mail({ from: 'Zelda Quartermaine <zelda@example.net>', to: alice.address, subject: 'Lunch plans', body: 'Meet at the aquarium.' }));
  await openFolder('INBOX');
  await page.waitForSelector('.row:has-text("Lunch plans")');
  // scroll deep into the list: rows are fetched as they come into view
  await page.$eval('.list-scroll', (el) => { el.scrollTop = 9_000 * 64; });
  await page.waitForSelector('.row:has-text("Bulk 10")');
  for (const q of ['Quartermaine', 'Lunch', 'aquarium']) {
    await page.fill('input[name=q]', q);
    await page.press('input[name=q]', 'Enter');
    await page.waitForSelector('.list-head:has-text("results for")');
    await eventually(async () => (await page.$$('.row')).length === 1, `one result for ${q}`);
    assert.match((await page.textContent('.row')) ?? '', /Lunch plans/);
  }
  await shot('search');
  await page.click('.list-head button:has-text("clear")');
});

test('on a phone-sized screen one pane shows at a time', async () => {
  const phone = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  await signIn(p, bob.address);
  assert.equal(await p.isVisible('.folders-pane'), false);
  await p.waitForSelector('.row:has-text("Budget figures")');
  await shot('phone-list', p);
  await p.tap('.row:has-text("Budget figures")');
  await p.waitForSelector('.reader-subject:has-text("Budget figures")');
  assert.equal(await p.isVisible('.list-pane'), false);
  assert.ok(await p.isVisible('a:has-text("budget.csv")'));
  await shot('phone-reader', p);
  const [download] = await Promise.all([p.waitForEvent('download'), p.click('a:has-text("budget.csv")')]);
  assert.equal(download.suggestedFilename(), 'budget.csv');
  await p.click('button:has-text("Sign out")');
  await p.waitForSelector('input[name=address]');
  await phone.close();
});

test('admin pages: sessions with kill, event log with XML export, settings editor', async () => {
  const admin = await addAdmin(srv, 'admin@example.com');
  const ctx2 = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const p = await ctx2.newPage();
  await signIn(p, admin.address);
  await p.click('.topbar button:has-text("Admin")');
  await p.waitForSelector(`td:has-text("${alice.address}")`);
  await shot('admin-sessions', p);
  await p.click('[role=tab]:has-text("Events")');
  await p.waitForSelector('td:has-text("Mailwarden")');
  const [xml] = await Promise.all([p.waitForEvent('download'), p.click('a:has-text("Export XML")')]);
  assert.equal(xml.suggestedFilename(), 'mailwarden-events.xml');
  await p.click('[role=tab]:has-text("Settings")');
  await p.fill('input[type=search]', 'OWAMaxConcurrency');
  await p.fill('input[aria-label="ThrottlingPolicy.OWAMaxConcurrency"]', '7');
  await p.click('tr:has-text("ThrottlingPolicy.OWAMaxConcurrency") button:has-text("Save")');
  await p.waitForSelector('text=saved; it applies from the next logon');
  assert.equal(srv.ctx.settings.int('ThrottlingPolicy.OWAMaxConcurrency'), 7);
  await shot('admin-settings', p);
  // ActiveSync devices (Get-MobileDevice) with Remove device
  await srv.ctx.store.upsertDevice({ userId: alice.id, deviceId: 'WEBADMINPHONE', deviceType: 'iPhone', model: 'iPhone15,2', os: 'iOS 18' });
  await p.click('[role=tab]:has-text("Devices")');
  await p.waitForSelector('td:has-text("WEBADMINPHONE")');
  assert.ok(await p.isVisible('tr:has-text("WEBADMINPHONE"):has-text("iPhone15,2")'));
  await shot('admin-devices', p);
  await p.click('tr:has-text("WEBADMINPHONE") button:has-text("Remove device")');
  await p.waitForSelector('text=Removed WEBADMINPHONE');
  assert.deepEqual(await srv.ctx.store.listDevices(alice.id), []);
  // ending alice's web mail session from the admin page signs her browser out
  await p.click('[role=tab]:has-text("Sessions")');
  await p.click(`tr:has-text("${alice.address}"):has-text("owa") button:has-text("End session")`);
  await page.waitForSelector('text=Your session has ended.');
  await ctx2.close();
  await signIn(page, alice.address);
});

test('sign out returns to the sign-in form and releases the store session', async () => {
  await page.click('button:has-text("Sign out")');
  await page.waitForSelector('text=You have signed out.');
  await eventually(async () => ((await srv.ctx.governor.counts(alice.id)).byKind.owa ?? 0) === 0, 'owa session released');
  await shot('signed-out');
});
