// SAVEDATE (RFC 8514) over a real socket with python3 imaplib: the save date is when a message
// was saved into the mailbox it is in (APPEND, COPY, MOVE), its internal date travels with it.
// The server's clock is one the test moves: "saved later" never depends on the wall clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { ManualClock } from '../../src/shared-state/clock.js';
import { STORE_FILE } from '../../src/server/create-context.js';
import { connectionConfig } from '../../src/store/postgres/postgres-store.js';
import { assertPythonLoggedIn, startTestServer, type TestServer } from './helpers.js';

const HOUR = 3_600_000;

/** What schema step 11 / migration 4 leaves on rows stored before save dates were kept. */
async function forgetSaveDates(srv: TestServer): Promise<void> {
  const sql = 'UPDATE messages SET save_date = NULL';
  if (srv.storeUrl) {
    const c = new pg.Client(connectionConfig(srv.storeUrl));
    await c.connect();
    await c.query(sql).finally(() => c.end());
  } else {
    const db = new Database(join(srv.dir, STORE_FILE));
    db.prepare(sql).run();
    db.close();
  }
}

/** Python helpers every step uses: FETCH's text of one message, SEARCH's numbers. */
const PY = `
def fetched(M, box, seq='1'):
    typ, _ = M.select(box)
    assert typ == 'OK', box
    typ, data = M.fetch(seq, '(INTERNALDATE SAVEDATE)')
    assert typ == 'OK', data
    return data[0].decode()

def found(M, *criteria):
    typ, data = M.search(None, *criteria)
    assert typ == 'OK', (criteria, data)
    return data[0].decode().split()
`;

test('python3 imaplib: SAVEDATE is set by APPEND, COPY and MOVE in the target, the internal date is kept; SAVED* search keys', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 10, 0, 0));
  const srv = await startTestServer({ clock });
  t.after(() => srv.close());

  await assertPythonLoggedIn(srv, 'append.py', `${PY}
assert 'SAVEDATE' in caps, caps
for box in ('Archive', 'Later'):
    assert M.create(box)[0] == 'OK'
msg = b'From: bob@example.org\\r\\nSubject: saved\\r\\n\\r\\nbody\\r\\n'
typ, data = M.append('INBOX', None, '"03-Feb-2001 04:05:06 +0000"', msg)
assert typ == 'OK', data
f = fetched(M, 'INBOX')
assert 'INTERNALDATE "03-Feb-2001 04:05:06 +0000"' in f, f
assert 'SAVEDATE "01-Mar-2026 10:00:00 +0000"' in f, f
`);

  clock.advance(25 * HOUR); // 02-Mar-2026 11:00
  await assertPythonLoggedIn(srv, 'copy.py', `${PY}
M.select('INBOX')
typ, data = M.copy('1', 'Archive')
assert typ == 'OK', data
f = fetched(M, 'Archive')
assert 'SAVEDATE "02-Mar-2026 11:00:00 +0000"' in f, f
assert 'INTERNALDATE "03-Feb-2001 04:05:06 +0000"' in f, f
f = fetched(M, 'INBOX')
assert 'SAVEDATE "01-Mar-2026 10:00:00 +0000"' in f, 'the source keeps its save date: ' + f
`);

  clock.advance(24 * HOUR); // 03-Mar-2026 11:00
  await assertPythonLoggedIn(srv, 'move.py', `${PY}
M.select('Archive')
typ, data = M.uid('MOVE', '1', 'Later')
assert typ == 'OK', data
f = fetched(M, 'Later')
assert 'SAVEDATE "03-Mar-2026 11:00:00 +0000"' in f, f
assert 'INTERNALDATE "03-Feb-2001 04:05:06 +0000"' in f, f
# the save date is searched, not the internal date (RFC 8514 4.3)
assert found(M, 'SAVEDON', '3-Mar-2026') == ['1']
assert found(M, 'SAVEDSINCE', '3-Mar-2026') == ['1']
assert found(M, 'SAVEDSINCE', '4-Mar-2026') == []
assert found(M, 'SAVEDBEFORE', '4-Mar-2026') == ['1']
assert found(M, 'SAVEDBEFORE', '3-Mar-2026') == []
assert found(M, 'ON', '3-Feb-2001') == ['1']
assert found(M, 'SAVEDATESUPPORTED') == ['1']
M.select('INBOX')
assert found(M, 'SAVEDON', '1-Mar-2026') == ['1']
assert found(M, 'OR', 'SAVEDON', '2-Mar-2026', 'SAVEDON', '3-Mar-2026') == []
typ, data = M.uid('SEARCH', 'SAVEDBEFORE', '2-Mar-2026')
assert typ == 'OK' and data[0].split() == [b'1'], data
try:
    M.search(None, 'SAVEDON', '32-Mar-2026')
    raise SystemExit('an invalid date must be BAD')
except M.error:
    pass
`);

  // a message stored before save dates were kept: NIL, matched by no SAVED* date key
  await forgetSaveDates(srv);
  await assertPythonLoggedIn(srv, 'nil.py', `${PY}
f = fetched(M, 'INBOX')
assert 'SAVEDATE NIL' in f, f
assert found(M, 'SAVEDBEFORE', '1-Jan-3000') == []
assert found(M, 'SAVEDSINCE', '1-Jan-1970') == []
assert found(M, 'SAVEDATESUPPORTED') == ['1']
`);
  assert.ok(clock.now() > Date.UTC(2026, 2, 3));
});
