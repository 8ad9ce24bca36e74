// The PROXY header parser on its own: v1 and v2, what a balancer's health check sends (LOCAL,
// UNKNOWN), and the bad input a trusted peer must not get past.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProxyHeader } from '../../src/protocols/shared/proxy-protocol.js';
import { proxyV1, proxyV2 } from '../helpers/proxy-balancer.js';

test('v1 and v2 headers name the client; the bytes after them are left for the protocol', () => {
  const v1 = Buffer.concat([proxyV1('203.0.113.5', 40000, '10.0.0.1', 143), Buffer.from('a1 LOGIN')]);
  assert.deepEqual(parseProxyHeader(v1), { kind: 'proxy', length: v1.length - 8, client: { address: '203.0.113.5', port: 40000, family: 'IPv4' } });
  const six = Buffer.from('PROXY TCP6 2001:db8::1 2001:db8::2 5000 993\r\n');
  assert.deepEqual(parseProxyHeader(six), { kind: 'proxy', length: six.length, client: { address: '2001:db8::1', port: 5000, family: 'IPv6' } });
  const v2 = proxyV2('198.51.100.1', 1234, '10.0.0.1', 993);
  assert.deepEqual(parseProxyHeader(v2), { kind: 'proxy', length: 28, client: { address: '198.51.100.1', port: 1234, family: 'IPv4' } });
});

test('a header split over packets waits; LOCAL and UNKNOWN keep the connection\'s own address', () => {
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP4 1.2')), { kind: 'incomplete' });
  assert.deepEqual(parseProxyHeader(proxyV2('1.2.3.4', 1, '5.6.7.8', 2).subarray(0, 20)), { kind: 'incomplete' });
  assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'local', length: 15 });
  const local = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x20, 0x00, 0, 0])]);
  assert.deepEqual(parseProxyHeader(local), { kind: 'local', length: 16 });
});

test('bad input is refused, never guessed at', () => {
  for (const bad of ['a1 LOGIN x y\r\n', 'PROXY TCP4 999.1.1.1 1.1.1.1 1 2\r\n', 'PROXY TCP4 1.1.1.1 1.1.1.1 99999 2\r\n', 'PROXY TCP5 1.1.1.1 1.1.1.1 1 2\r\n', `PROXY TCP4 ${'1'.repeat(120)}`]) {
    assert.equal(parseProxyHeader(Buffer.from(bad)).kind, 'invalid', bad);
  }
  const v3 = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x31, 0x11, 0, 12]), Buffer.alloc(12)]);
  assert.equal(parseProxyHeader(v3).kind, 'invalid');
  const huge = Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a', 'hex'), Buffer.from([0x21, 0x11, 0xff, 0xff])]);
  assert.equal(parseProxyHeader(huge).kind, 'invalid');
});
