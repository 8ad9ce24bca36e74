// Shared by the MIME tests: reads the .eml corpus next to the TS sources (tsc does not copy it).
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// Compiled tests live in dist/test/mime/, the corpus in test/mime/corpus/.
export const corpusDir = fileURLToPath(new URL('../../../test/mime/corpus/', import.meta.url));

export function load(name: string): Buffer {
  return readFileSync(corpusDir + name);
}

export function corpusFiles(): string[] {
  return readdirSync(corpusDir).filter((f) => f.endsWith('.eml')).sort();
}
