/**
 * vitest globalSetup: builds the graph view (web/ → dist/web) once before the test files run, so
 * that `exposure serve` in the tests serves the page of the sources under test.
 */
import { build } from 'vite'

export default async function setup(): Promise<void> {
  await build({ configFile: new URL('../../web/vite.config.ts', import.meta.url).pathname, logLevel: 'warn' })
}
