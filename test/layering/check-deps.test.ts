import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { tempDir } from '../helpers/tmp.js';

const CHECKER = resolve('scripts/check-deps.mjs');

function check(root: string): { code: number; stderr: string } {
  const r = spawnSync(process.execPath, [CHECKER, root], { encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, stderr: r.stderr };
}

/** A small tree shaped like src/, every import pointing down. */
const CLEAN: Record<string, string> = {
  'src/mime/structure.ts': 'export const x = 1;\n',
  'src/store/store.ts': "import { x } from '../mime/structure.js';\nexport const store = x;\n",
  'src/store/sqlite/message-writes.ts': "import type { store } from '../store.js';\nexport type W = typeof store;\n",
  'src/settings/resolve.ts': "import { store } from '../store/store.js';\nexport const resolveSetting = store;\n",
  'src/transport/submit.ts': "import type { ServerContext } from '../server/context.js';\nexport const submit = (c: ServerContext) => c;\n",
  'src/server/context.ts': "import type { store } from '../store/store.js';\nexport interface ServerContext { s: typeof store }\n",
  'src/server/create-context.ts': "import { submit } from '../transport/submit.js';\nexport const create = submit;\n",
  'src/protocols/shared/dot-stuff.ts': 'export const dots = 1;\n',
  'src/protocols/smtp/server.ts': "import { submit } from '../../transport/submit.js';\nimport { dots } from '../shared/dot-stuff.js';\nexport const smtp = [submit, dots];\n",
  'src/web/owa/compose-routes.ts': "import {\n  submit,\n} from '../../transport/submit.js';\nexport const compose = submit;\n",
  'src/cli/common.ts': "import { create } from '../server/create-context.js';\nexport const cli = create;\n",
};

function tree(extra: Record<string, string>): string {
  const tmp = tempDir('mailwarden-deps-');
  cleanups.push(tmp.cleanup);
  for (const [file, text] of Object.entries({ ...CLEAN, ...extra })) {
    mkdirSync(dirname(join(tmp.dir, file)), { recursive: true });
    writeFileSync(join(tmp.dir, file), text);
  }
  return tmp.dir;
}
const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

describe('scripts/check-deps.mjs', () => {
  it('passes on this repository', () => {
    const r = check(resolve('.'));
    assert.equal(r.code, 0, r.stderr);
  });

  it('passes a tree whose imports point down', () => {
    const r = check(tree({}));
    assert.equal(r.code, 0, r.stderr);
  });

  it('fails when a front end imports another (web mail compose importing the SMTP front end)', () => {
    const r = check(tree({ 'src/web/owa/compose-routes.ts': "import {\n  smtp,\n} from '../../protocols/smtp/server.js';\nexport const compose = smtp;\n" }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /src\/web\/owa\/compose-routes\.ts: front end web imports front end smtp \(src\/protocols\/smtp\/server\.ts\)/);
  });

  it('sees type-only and dynamic imports too', () => {
    const r = check(tree({
      'src/protocols/imap/session.ts': "import type { smtp } from '../smtp/server.js';\nexport type S = typeof smtp;\n",
      'src/protocols/pop3/session.ts': "export const later = () => import('../imap/session.js');\n",
    }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /imap\/session\.ts: front end imap imports front end smtp/);
    assert.match(r.stderr, /pop3\/session\.ts: front end pop3 imports front end imap/);
  });

  it('fails when the store imports anything above it', () => {
    const r = check(tree({ 'src/store/sqlite/other.ts': "import { submit } from '../../transport/submit.js';\nexport const o = submit;\n" }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /src\/store\/sqlite\/other\.ts: the store imports src\/transport\/submit\.ts \(transport\), which is above it/);
  });

  it('fails when anything but the CLI imports the composition root', () => {
    const r = check(tree({ 'src/transport/submit.ts': "import { create } from '../server/create-context.js';\nexport const submit = create;\n" }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /src\/transport\/submit\.ts: imports the composition root \(src\/server\/create-context\.ts\)/);
  });

  it('fails on an upward import between other layers, and on a folder in no layer', () => {
    const r = check(tree({
      'src/settings/resolve.ts': "import { submit } from '../transport/submit.js';\nexport const resolveSetting = submit;\n",
      'src/newthing/x.ts': 'export const y = 1;\n',
    }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /settings imports transport/);
    assert.match(r.stderr, /src\/newthing\/x\.ts: in no layer/);
  });

  it('ignores imports in comments and package imports', () => {
    const r = check(tree({ 'src/store/store.ts': "// import { smtp } from '../protocols/smtp/server.js';\n/* import '../web/x.js' */\nimport Database from 'better-sqlite3';\nexport const store = Database;\n" }));
    assert.equal(r.code, 0, r.stderr);
  });
});
