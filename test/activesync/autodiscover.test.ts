// Mobile Autodiscover (MS-ASCMD 2.2.1.1) on the route EWS's Autodiscover shares, with curl over
// real HTTPS: the mobilesync schema gets the ActiveSync URL, Outlook's schema keeps the EWS answer,
// an unknown schema is error 601, a malformed request (or one declaring entities) 600, another
// user's address 500, no or wrong credentials 401.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { run } from '../helpers/run.js';
import { child, children, parseXml, type XmlElement } from '../../src/protocols/shared/xml.js';

let srv: TestServer;

const MOBILE = 'http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006';
const OUTLOOK = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a';
const ENVELOPE = 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006';

const request = (address: string, schema: string) =>
  `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>${address}</EMailAddress><AcceptableResponseSchema>${schema}</AcceptableResponseSchema></Request></Autodiscover>`;

async function autodiscover(body: string, opts: { path?: string; user?: string } = {}): Promise<{ status: number; root: XmlElement | null; text: string }> {
  const url = `https://127.0.0.1:${srv.port('https')}${opts.path ?? '/autodiscover/autodiscover.xml'}`;
  const auth = opts.user === '' ? [] : ['-u', opts.user ?? 'alice@example.com:secret-pw'];
  const r = await run('curl', ['-sk', ...auth, '-X', 'POST', url, '-H', 'content-type: text/xml', '--data-binary', body, '-w', '\n%{http_code}']);
  const nl = r.stdout.lastIndexOf('\n');
  const text = r.stdout.slice(0, nl);
  let root: XmlElement | null = null;
  try {
    root = parseXml(text);
  } catch {
    root = null;
  }
  return { status: Number(r.stdout.slice(nl + 1)), root, text };
}

const errorCode = (root: XmlElement | null) => child(child(child(root ?? undefined, 'Response'), 'Error'), 'ErrorCode')?.text;

before(async () => {
  srv = await startTestServer();
  await srv.addUser('alice@example.com');
  await srv.addUser('bob@example.com');
});
after(async () => srv.close());

test('the mobilesync schema gets Action/Settings/Server MobileSync with the ActiveSync URL, on both spellings of the path', async () => {
  for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
    const r = await autodiscover(request('alice@example.com', MOBILE), { path, user: 'EXAMPLE\\alice@example.com:secret-pw' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.root!.ns, ENVELOPE);
    const response = child(r.root!, 'Response')!;
    assert.equal(response.ns, MOBILE);
    assert.equal(child(child(response, 'User'), 'EMailAddress')?.text, 'alice@example.com');
    const servers = children(child(child(response, 'Action'), 'Settings'), 'Server');
    assert.equal(servers.length, 1);
    assert.equal(child(servers[0], 'Type')?.text, 'MobileSync');
    const url = `https://127.0.0.1:${srv.port('https')}/Microsoft-Server-ActiveSync`;
    assert.equal(child(servers[0], 'Url')?.text, url);
    assert.equal(child(servers[0], 'Name')?.text, url);
    assert.equal(r.text.includes('EwsUrl'), false);
  }
});

test("Outlook's schema on the same route keeps the EWS answer", async () => {
  const r = await autodiscover(request('alice@example.com', OUTLOOK));
  assert.equal(r.status, 200);
  assert.equal(child(r.root!, 'Response')?.ns, OUTLOOK);
  assert.ok(r.text.includes(`<EwsUrl>https://127.0.0.1:${srv.port('https')}/EWS/Exchange.asmx</EwsUrl>`), r.text);
  assert.equal(r.text.includes('MobileSync'), false);
});

test('errors: unknown schema 601, malformed or entity-declaring request 600, another address 500 (mobilesync namespace), credentials 401', async () => {
  const unknown = await autodiscover(request('alice@example.com', 'http://example.com/some/other/responseschema'));
  assert.equal(unknown.status, 200);
  assert.equal(errorCode(unknown.root), '601');
  const malformed = await autodiscover('<Autodiscover><Request><EMailAddress>alice@example.com');
  assert.equal(errorCode(malformed.root), '600');
  const entities = await autodiscover(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "alice@example.com">]>${request('&x;', MOBILE).replace(/^<\?xml[^>]*\?>/, '')}`);
  assert.equal(errorCode(entities.root), '600');
  const other = await autodiscover(request('bob@example.com', MOBILE));
  assert.equal(child(other.root!, 'Response')?.ns, MOBILE);
  assert.equal(errorCode(other.root), '500');
  assert.equal((await autodiscover(request('alice@example.com', MOBILE), { user: '' })).status, 401);
  assert.equal((await autodiscover(request('alice@example.com', MOBILE), { user: 'alice@example.com:wrong' })).status, 401);
  // every answered request closed its store session
  assert.equal(srv.ctx.governor.openCount, 0);
});
