#!/usr/bin/env node
// Checks that dependencies between Mailwarden's modules point down (README "Layout"):
//   - no front end (IMAP, POP3, SMTP, web) imports another: what two front ends share lives below them
//     (src/transport, src/access, src/protocols/shared);
//   - the store imports nothing above it;
//   - nothing imports the composition root (src/server, except the interfaces it hands down) but the
//     server itself and the CLI that starts it;
//   - in general a layer imports only layers below it or itself.
// Every relative import of every .ts/.tsx file under ROOT/src counts, `import type` too: a type import
// is still a dependency on the module that declares the type.
// Usage: node scripts/check-deps.mjs [ROOT]   (ROOT defaults to the current folder; exit 1 on a violation)
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Lower rank = more basic. A file may import its own layer or a layer of lower rank. */
export const LAYERS = [
  { name: 'libraries', rank: 0, paths: ['src/mime', 'src/util', 'src/types', 'src/observability', 'src/tls', 'src/version.ts'] },
  // Key/value state shared between nodes (web sessions, the brute-force guard, rate windows):
  // below everything that keeps such state, above nothing.
  { name: 'shared state', rank: 0, paths: ['src/shared-state'] },
  { name: 'store', rank: 1, paths: ['src/store'] },
  { name: 'settings', rank: 2, paths: ['src/settings'] },
  { name: 'events', rank: 2, paths: ['src/events'] },
  { name: 'governor', rank: 3, paths: ['src/governor'] },
  // Redis implementations of the accounting, change bus and shared state (several nodes): they
  // implement the governor's, the store's and shared-state's interfaces; only the composition root and the CLI pick them.
  { name: 'cluster', rank: 3.5, paths: ['src/cluster'] },
  { name: 'access', rank: 4, paths: ['src/access'] },
  { name: 'transport', rank: 4, paths: ['src/transport'] },
  // Moving mail in from other servers (Maildir, mbox, IMAP): reads sources, writes through the store.
  { name: 'import', rank: 4, paths: ['src/import'] },
  { name: 'protocol helpers', rank: 5, paths: ['src/protocols/shared'] },
  { name: 'imap', rank: 6, frontEnd: true, paths: ['src/protocols/imap'] },
  { name: 'pop3', rank: 6, frontEnd: true, paths: ['src/protocols/pop3'] },
  { name: 'smtp', rank: 6, frontEnd: true, paths: ['src/protocols/smtp'] },
  { name: 'web', rank: 6, frontEnd: true, paths: ['src/web'] },
  { name: 'ews', rank: 6, frontEnd: true, paths: ['src/protocols/ews'] },
  { name: 'activesync', rank: 6, frontEnd: true, paths: ['src/protocols/activesync'] },
  // What the composition root hands to the layers below it: the context's type, listener options,
  // the configuration's type, where a running server leaves its address and the lock that says it
  // still runs (start-lock.ts). Any layer may import these.
  // They import the layers they describe (rank 5.5: above everything below the front ends).
  { name: 'server interfaces', rank: 5.5, interfaces: true, paths: ['src/server/context.ts', 'src/server/listener.ts', 'src/server/config.ts', 'src/server/running.ts', 'src/server/start-lock.ts'] },
  { name: 'composition root', rank: 7, compositionRoot: true, paths: ['src/server'] },
  { name: 'cli', rank: 8, paths: ['src/cli'] },
];

/** Known exceptions, each with the reason it is still there. Keep this list short. */
// Exceptions to the layering, each with the reason it is tolerated. None today: the store's
// quota read moved above it (StoreOptions.quotaLimit, resolved in src/settings/).
export const ALLOWED = [];

function layerOf(file) {
  let best = null;
  for (const layer of LAYERS) {
    for (const p of layer.paths) {
      const match = file === p || file.startsWith(p + '/');
      // The longest matching path wins: src/server/context.ts before src/server.
      if (match && (!best || p.length > best.path.length)) best = { layer, path: p };
    }
  }
  return best?.layer ?? null;
}

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (/\.(ts|tsx)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Import specifiers of a source file: static imports and re-exports (also multi-line), side-effect and dynamic imports. */
export function importsOf(source) {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found = [];
  for (const re of [/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\s+['"]([^'"]+)['"]/g]) {
    for (const m of code.matchAll(re)) found.push(m[1]);
  }
  return found;
}

/** The repository-relative path a relative specifier names (TypeScript's NodeNext style: './x.js' is './x.ts'). */
function resolveSpecifier(root, fromFile, spec) {
  const base = resolve(root, dirname(fromFile), spec);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), base + '.ts', base + '.tsx', join(base, 'index.ts')];
  const hit = candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? base;
  return relative(root, hit).split(sep).join('/');
}

/** Every violation in ROOT/src, as "file: reason" lines. */
export function checkDeps(root) {
  const srcDir = join(root, 'src');
  const violations = [];
  for (const abs of walk(srcDir)) {
    const file = relative(root, abs).split(sep).join('/');
    const from = layerOf(file);
    if (!from) {
      violations.push(`${file}: in no layer (add its folder to LAYERS in scripts/check-deps.mjs)`);
      continue;
    }
    for (const spec of importsOf(readFileSync(abs, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = resolveSpecifier(root, file, spec);
      if (ALLOWED.some((a) => a.from === file && a.to === target)) continue;
      const to = layerOf(target);
      if (!to) {
        if (target.startsWith('src/')) violations.push(`${file}: imports ${target}, which is in no layer`);
        continue;
      }
      if (to === from || to.interfaces) continue;
      if (from.frontEnd && to.frontEnd) {
        violations.push(`${file}: front end ${from.name} imports front end ${to.name} (${target}); move what both need below the front ends`);
      } else if (to.compositionRoot && from.name !== 'cli') {
        violations.push(`${file}: imports the composition root (${target})`);
      } else if (from.name === 'store' && to.rank >= from.rank) {
        violations.push(`${file}: the store imports ${target} (${to.name}), which is above it`);
      } else if (to.rank >= from.rank && !(to.rank === from.rank && !to.frontEnd)) {
        violations.push(`${file}: ${from.name} imports ${to.name} (${target}), which is above it`);
      }
    }
  }
  return violations;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? '.');
  const violations = checkDeps(root);
  if (violations.length) {
    console.error(`check-deps: ${violations.length} dependenc${violations.length === 1 ? 'y points' : 'ies point'} the wrong way:`);
    for (const v of violations) console.error('  ' + v);
    process.exit(1);
  }
  console.log('check-deps: dependencies point down');
}
