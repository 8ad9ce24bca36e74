// EWS under the governor, over real sockets with curl: the throttling policy
// (ThrottlingPolicy.EWSMaxConcurrency) counts a streaming connection for its life and refuses
// the next request with ErrorExceededConnectionCount; a lockout is ErrorServerBusy with
// BackOffMilliseconds (never a password prompt); a wrong password is 401 with the Basic
// challenge; an oversized request is a SOAP fault, not a stack.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { run } from '../helpers/run.js';
import type { User } from '../../src/store/types.js';
import { MAX_REQUEST_BYTES } from '../../src/protocols/ews/endpoint.js';

let srv: TestServer;
let alice: User;
const url = () => `https://127.0.0.1:${srv.port('https')}/EWS/Exchange.asmx`;

const soap = (body: string) => '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
  + 'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">'
  + `<s:Header><t:RequestServerVersion Version="Exchange2010_SP2"/></s:Header><s:Body>${body}</s:Body></s:Envelope>`;
const GET_INBOX = soap('<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>');

async function curl(body: string, user = 'alice@example.com:secret-pw'): Promise<string> {
  const r = await run('curl', ['-sk', '-i', '-u', user, '-X', 'POST', url(), '-H', 'content-type: text/xml; charset=utf-8', '--data-binary', '@-'], { input: body });
  return r.stdout;
}

before(async () => {
  srv = await startTestServer({ guardPolicy: { windowMs: 15 * 60_000, lockoutAfter: 3, lockoutMs: 5 * 60_000, delayStepMs: 0, maxDelayMs: 0 } });
  alice = await srv.addUser('alice@example.com');
});
after(async () => srv?.close());

test('EWSMaxConcurrency: a streaming connection holds a slot; the next request gets ErrorExceededConnectionCount until it ends', async () => {
  await srv.setSetting('ThrottlingPolicy.EWSMaxConcurrency', '1', { userId: alice.id });
  const subscribed = await curl(soap('<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>'
    + '<t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>'));
  const id = /<m:SubscriptionId>([^<]+)<\/m:SubscriptionId>/.exec(subscribed)?.[1];
  assert.ok(id, subscribed);
  // the streaming request (node's https client), held open until we end it
  const body = soap(`<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>30</m:ConnectionTimeout></m:GetStreamingEvents>`);
  const req = request(url(), { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'text/xml', authorization: `Basic ${Buffer.from('alice@example.com:secret-pw').toString('base64')}` } });
  const firstChunk = new Promise<string>((resolve, reject) => {
    req.on('response', (res) => res.once('data', (c: Buffer) => resolve(c.toString())));
    req.on('error', reject);
  });
  req.end(body);
  assert.match(await firstChunk, /<m:ConnectionStatus>OK<\/m:ConnectionStatus>/);
  try {
    const refused = await curl(GET_INBOX);
    assert.match(refused, /^HTTP\/1\.1 500/);
    assert.match(refused, /<e:ResponseCode[^>]*>ErrorExceededConnectionCount<\/e:ResponseCode>/);
    assert.match(refused, /1 of 1 EWS sessions in use for alice@example\.com \(ThrottlingPolicy\.EWSMaxConcurrency\)/);
    assert.ok((await srv.ctx.store.listEvents({ eventId: 2915 })).some((e) => e.user === 'alice@example.com'));
  } finally {
    req.destroy();
  }
  // the stream's session and slot are given back when its client goes away
  await eventually(async () => (await srv.ctx.governor.accounting.list({ userId: alice.id })).length === 0, 120_000, 'the stream to end');
  assert.match(await curl(GET_INBOX), /<t:DisplayName>Inbox<\/t:DisplayName>/);
  await srv.ctx.store.deleteSetting({ scope: 'user', targetId: alice.id, name: 'ThrottlingPolicy.EWSMaxConcurrency' });
  await srv.ctx.settings.refresh();
});

test('oversized request: a SOAP fault with 413, the session never opened past the limit', async () => {
  const big = soap(`<m:GetFolder>${' '.repeat(MAX_REQUEST_BYTES)}</m:GetFolder>`);
  const r = await run('curl', ['-sk', '-i', '-H', 'Expect:', '-u', 'alice@example.com:secret-pw', '-X', 'POST', url(), '-H', 'content-type: text/xml', '--data-binary', '@-'], { input: big });
  assert.match(r.stdout, /^HTTP\/1\.1 413/);
  assert.match(r.stdout, /ErrorSchemaValidation/);
});

test('wrong password: 401 with the Basic challenge; after the lockout: ErrorServerBusy with BackOffMilliseconds', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await curl(GET_INBOX, 'alice@example.com:wrong');
    assert.match(r, /^HTTP\/1\.1 401/);
    assert.match(r, /www-authenticate: Basic realm=/i);
  }
  const locked = await curl(GET_INBOX);
  assert.match(locked, /<e:ResponseCode[^>]*>ErrorServerBusy<\/e:ResponseCode>/);
  assert.match(locked, /<t:Value Name="BackOffMilliseconds">\d+<\/t:Value>/);
  assert.match(locked, /Logons from 127\.0\.0\.1 are refused/);
});
