// The EWS front end's XML reader: namespaces by URI whatever the prefix, no DOCTYPE, no entities
// beyond the predefined five, depth limit; and the SOAP envelope checks on top of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseXml, XmlError } from '../../src/protocols/ews/xml.js';
import { readEnvelope, SoapFault } from '../../src/protocols/ews/soap.js';

const M = 'http://schemas.microsoft.com/exchange/services/2006/messages';

test('prefixed and default-namespace elements read the same', () => {
  const a = parseXml(`<m:GetFolder xmlns:m="${M}" a="1"><m:X>t&amp;&#x41;&#66;</m:X></m:GetFolder>`);
  const b = parseXml(`<GetFolder xmlns="${M}" a="1"><X>t&amp;AB</X></GetFolder>`);
  assert.deepEqual(a, b);
  assert.equal(a.children[0]!.text, 't&AB');
});

test('DOCTYPE, external and unknown entities, undeclared prefixes and bad nesting are refused', () => {
  for (const bad of [
    '<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>',
    '<!DOCTYPE x SYSTEM "http://127.0.0.1/x.dtd"><x/>',
    '<x>&e;</x>',
    '<x>a & b</x>',
    '<p:x/>',
    '<x><y></x></y>',
    '<x>',
    '<x/><y/>',
    '<x a=1/>',
  ]) assert.throws(() => parseXml(bad), XmlError, bad);
  assert.throws(() => parseXml('<a>'.repeat(100) + '</a>'.repeat(100)), /nested too deeply/);
});

test('envelopes: SOAP 1.1 only, one operation in the messages namespace, RequestServerVersion honoured', () => {
  const env = (body: string, header = '') => `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>${header}</s:Header><s:Body>${body}</s:Body></s:Envelope>`;
  const rsv = (v: string) => `<t:RequestServerVersion xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" Version="${v}"/>`;
  assert.equal(readEnvelope(env(`<GetFolder xmlns="${M}"/>`)).version, 'Exchange2007');
  assert.equal(readEnvelope(env(`<GetFolder xmlns="${M}"/>`, rsv('Exchange2010_SP1'))).version, 'Exchange2010_SP1');
  const code = (f: () => unknown) => { try { f(); } catch (e) { return (e as SoapFault).responseCode; } return null; };
  assert.equal(code(() => readEnvelope(env(`<GetFolder xmlns="${M}"/>`, rsv('Exchange2013')))), 'ErrorInvalidServerVersion');
  assert.equal(code(() => readEnvelope(env('<GetFolder/>'))), 'ErrorSchemaValidation');
  assert.equal(code(() => readEnvelope(env(`<GetFolder xmlns="${M}"/><GetItem xmlns="${M}"/>`))), 'ErrorSchemaValidation');
  assert.equal(code(() => readEnvelope('<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body/></Envelope>')), 'ErrorSchemaValidation');
  assert.equal(code(() => readEnvelope('not xml')), 'ErrorSchemaValidation');
});

test('namespaces declared far up are found below, a redeclaration wins inside only; the element count is capped (issue 14)', () => {
  const decls = Array.from({ length: 2000 }, (_, i) => ` xmlns:p${i}="urn:${i}"`).join('');
  const kids = Array.from({ length: 2000 }, (_, i) => `<p${i}:k xmlns:q="urn:q${i}"><q:x/></p${i}:k>`).join('');
  const doc = parseXml(`<r${decls} xmlns:q="urn:outer"><a>${kids}</a><q:y/></r>`);
  const a = doc.children[0]!;
  assert.equal(a.children.length, 2000);
  assert.equal(a.children[1999]!.ns, 'urn:1999');
  assert.equal(a.children[7]!.children[0]!.ns, 'urn:q7');
  assert.equal(doc.children[1]!.ns, 'urn:outer');
  assert.equal(parseXml('<x:r xmlns:x="urn:a"><x:s xmlns:x="urn:b"/><x:t/></x:r>').children.map((c) => c.ns).join(), 'urn:b,urn:a');
  assert.equal(parseXml('<r xml:lang="en"/>').attrs['lang'], 'en');

  assert.equal(parseXml(`<r>${'<a/>'.repeat(99)}</r>`, 64, 100).children.length, 99);
  assert.throws(() => parseXml(`<r>${'<a/>'.repeat(100)}</r>`, 64, 100), (e: unknown) => e instanceof XmlError && /More than 100 elements/.test(e.message));
  assert.throws(() => readEnvelope(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${'<a/>'.repeat(200_001)}</s:Body></s:Envelope>`), SoapFault);
});
