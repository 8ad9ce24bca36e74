import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { LineClient } from '../helpers/line-client.js';
import { eventually } from '../helpers/server.js';
import { ARTIFACTS, launchBrowser, startOwaServer, type OwaTestServer } from './helpers.js';

/**
 * KB 980049, as a user sees it: a mail app holds 16 POP3 sessions, and web mail then says
 * "A problem occurred while you were trying to use your mailbox." with
 * TooManyObjectsOpenedException under Show details. Raising "Maximum Allowed Service
 * Sessions Per User" — live, no restart — lets the next sign-in through.
 */
let srv: OwaTestServer;
let browser: Browser;

before(async () => {
  srv = await startOwaServer({ plaintext: true });
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await srv?.close();
});

test("the article's scenario in the browser: 16 POP3 sessions, the error page, Show details, the live fix", async () => {
  const user = await srv.addUser('e-mailuser@example.com');
  const pop: LineClient[] = [];
  for (let i = 0; i < 16; i++) {
    const c = await LineClient.connect(srv.port('pop3'));
    await c.line();
    await c.cmd(`USER ${user.address}`);
    assert.match(await c.cmd('PASS secret-pw'), /^\+OK/);
    pop.push(c);
  }
  assert.equal((await srv.ctx.governor.counts(user.id)).byKind.pop3, 16);

  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  const url = `https://127.0.0.1:${srv.port('https')}/owa/`;
  await page.goto(url);
  await page.fill('input[name=address]', user.address);
  await page.fill('input[name=password]', 'secret-pw');
  await page.click('button:has-text("Sign in")');
  await page.waitForSelector('h1:has-text("A problem occurred while you were trying to use your mailbox.")');
  assert.equal(await page.$('[data-testid=error-details]'), null, 'details are hidden until asked for');
  await page.screenshot({ path: join(ARTIFACTS, 'article-error-page.png') });

  await page.click('button:has-text("Show details")');
  const details = (await page.textContent('[data-testid=error-details]')) ?? '';
  assert.match(details, /Exception typeTooManyObjectsOpenedException/);
  assert.match(details, /Server Unavailable\. 15: 16 of 16 service sessions in use for e-mailuser@example\.com/);
  assert.match(details, new RegExp(`Request URLhttps://127\\.0\\.0\\.1:${srv.port('https')}/owa/api/login`));
  assert.match(details, /Usere-mailuser@example\.com/);
  assert.ok(details.includes(`Server${srv.ctx.computer}`), details);
  assert.match(details, /Time\w{3}, \d{2} \w{3} \d{4}/);
  assert.match(details, /Maximum Allowed Service Sessions Per User = 16/);
  await page.screenshot({ path: join(ARTIFACTS, 'article-error-details.png') });

  // the governor wrote event 9646 with the original's text; web mail holds no session
  const events = await srv.ctx.store.listEvents({ eventId: 9646, user: user.address });
  assert.equal(events.length, 1);
  assert.equal(events[0]!.message, 'Mapi session "/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=e-mailuser" exceeded the maximum of 16 objects of type "session".');
  assert.equal((await srv.ctx.governor.counts(user.id)).byKind.owa ?? 0, 0);

  // the resolution, applied live
  await srv.setSetting('Maximum Allowed Service Sessions Per User', '20');
  await page.click('button:has-text("Try again")');
  await page.fill('input[name=address]', user.address);
  await page.fill('input[name=password]', 'secret-pw');
  await page.click('button:has-text("Sign in")');
  await page.waitForSelector('button[data-folder="INBOX"]');
  assert.equal((await srv.ctx.governor.counts(user.id)).byKind.owa, 1);
  await page.screenshot({ path: join(ARTIFACTS, 'article-signed-in.png') });

  await page.click('button:has-text("Sign out")');
  await page.waitForSelector('input[name=address]');
  for (const c of pop) c.destroy();
  await eventually(async () => (await srv.ctx.governor.counts(user.id)).all === 0, 'every session released');
  await context.close();
});
