import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web mail app (ui/) builds to dist/ui, which the server serves under /owa/.
 * JSX is compiled for Preact by Vite's own transformer (oxc), so no framework plugin is needed.
 * `npx vite` runs a dev server that forwards the API to a local `mailwarden serve`.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./ui', import.meta.url)),
  base: '/owa/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    proxy: { '/owa/api': { target: 'https://127.0.0.1:8443', secure: false } },
  },
});
