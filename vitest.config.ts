import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The graph view is built once before the files run (exposure serve serves dist/web).
    globalSetup: ['test/support/build-web.ts'],
    // Integration tests start their own redis-server / anvil and run real walks.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
