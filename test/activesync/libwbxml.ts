/**
 * Debian's libwbxml2-utils as the reference for our WBXML codec: `xml2wbxml -a -n -v 1.3`
 * writes the ActiveSync header (03 01 6A 00) and `wbxml2xml -l ACTIVESYNC` reads any document.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function inTemp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'mw-wbxml-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** XML text → WBXML bytes, as libwbxml writes them. */
export function libwbxmlEncode(xml: string): Buffer {
  return inTemp((dir) => {
    writeFileSync(join(dir, 'in.xml'), xml);
    execFileSync('xml2wbxml', ['-a', '-n', '-v', '1.3', '-o', join(dir, 'out.wbxml'), join(dir, 'in.xml')], { stdio: 'pipe' });
    return readFileSync(join(dir, 'out.wbxml'));
  });
}

/** WBXML bytes → XML text, as libwbxml reads them (throws when it cannot). */
export function libwbxmlDecode(wbxml: Buffer): string {
  return inTemp((dir) => {
    writeFileSync(join(dir, 'in.wbxml'), wbxml);
    execFileSync('wbxml2xml', ['-l', 'ACTIVESYNC', '-o', join(dir, 'out.xml'), join(dir, 'in.wbxml')], { stdio: 'pipe' });
    return readFileSync(join(dir, 'out.xml'), 'utf8');
  });
}
