import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

/** The graph view: built into dist/web, served at / by exposure serve (src/api/routes/web.ts). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2_000,
  },
  worker: { format: 'es' },
})
