import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { createServerContext } from '../../src/server/create-context.js';
import { eventToXml, eventsToXml } from '../../src/events/xml.js';
import { tempDir } from '../helpers/tmp.js';

interface Node { name: string; attrs: string[]; children: Node[]; text: string }

/** Element tree: names, attribute names, child order; text kept for value checks. */
function tree(xml: string): Node {
  const parsed = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '@', trimValues: true, parseTagValue: false }).parse(xml) as unknown[];
  const walk = (o: Record<string, unknown>): Node => {
    const name = Object.keys(o).find((k) => k !== ':@')!;
    const kids = (o[name] as Array<Record<string, unknown>>) ?? [];
    return {
      name,
      attrs: Object.keys((o[':@'] as object) ?? {}).sort(),
      children: kids.filter((k) => !('#text' in k)).map(walk),
      text: kids.filter((k) => '#text' in k).map((k) => String(k['#text'])).join(''),
    };
  };
  return walk(parsed[0] as Record<string, unknown>);
}

function shape(n: Node): unknown {
  return { name: n.name, attrs: n.attrs, children: n.children.map(shape) };
}

test('event 9646 exports as Windows event XML in exactly the shape of the article example', async () => {
  const tmp = tempDir();
  const ctx = await createServerContext(join(tmp.dir, 'data'), { computer: 'mail01.contoso.com' });
  try {
    await ctx.store.putSetting({ scope: 'server', targetId: 0, name: 'Maximum Allowed Service Sessions Per User', value: '1' });
    const user = await ctx.store.createUser({ address: 'e-mailuser@contoso.com', password: 'pw' });
    const held = await ctx.governor.open({ user, kind: 'pop3', clientAddress: 'x' });
    await assert.rejects(ctx.governor.open({ user, kind: 'imap', clientAddress: 'x' }));
    await assert.rejects(ctx.governor.open({ user, kind: 'imap', clientAddress: 'x' }));
    const [event] = await ctx.store.listEvents({ eventId: 9646 });
    const ours = tree(eventToXml(event));
    const article = tree(readFileSync('test/fixtures/article-event-9646.xml', 'utf8'));
    assert.deepEqual(shape(ours), shape(article));
    const sys = (n: Node, name: string) => n.children[0].children.find((c) => c.name === name)!;
    for (const name of ['EventID', 'Level', 'Task', 'Keywords', 'Channel']) assert.equal(sys(ours, name).text, sys(article, name).text, name);
    assert.equal(eventToXml(event).split('\n')[0], '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">');
    assert.match(eventToXml(event), /<EventID Qualifiers="49158">9646<\/EventID>/);
    assert.match(eventToXml(event), /<Provider Name="MSExchangeIS" \/>/);
    assert.match(eventToXml(event), /<TimeCreated SystemTime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z" \/>/);
    assert.equal(sys(ours, 'Computer').text, 'mail01.contoso.com');
    assert.equal(sys(ours, 'EventRecordID').text, String(event.recordId));
    const data = ours.children[1].children.filter((c) => c.name === 'Data').map((c) => c.text);
    assert.deepEqual(data, ['/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=e-mailuser', '1', 'session']);
    // Binary carries the refusal count (2) little-endian first
    assert.match(ours.children[1].children.find((c) => c.name === 'Binary')!.text, /^02000000/);
    // several events: one <Events> root holding each <Event>
    await ctx.events.write('serverStarted', ['0.1.0', 'x', 'none']);
    const all = tree(eventsToXml(await ctx.store.listEvents()));
    assert.equal(all.name, 'Events');
    assert.equal(all.children.length, 2);
    await held.close();
  } finally {
    await ctx.store.close();
    tmp.cleanup();
  }
});

test('XML export escapes data so that a hostile user name cannot break the document', async () => {
  const tmp = tempDir();
  const ctx = await createServerContext(join(tmp.dir, 'data'));
  try {
    const rec = await ctx.events.write('authLockout', ['1.2.3.4', 'pop3', 300, 10, '</Data><script>&"\'']);
    const xml = eventToXml(rec);
    const parsed = tree(xml);
    const last = parsed.children[1].children.filter((c) => c.name === 'Data').at(-1)!;
    assert.equal(last.text, '</Data><script>&"\''); // round-trips exactly through a real XML parser
    assert.ok(!xml.includes('<script>'));
  } finally {
    await ctx.store.close();
    tmp.cleanup();
  }
});
