/**
 * `node --import tsx workers/walk.ts [options]`: a process serving walk jobs (exposure trace), the
 * same as `exposure worker --queues walk [options]`. The worker itself is src/queues/workers/walk.ts.
 */
import { runWorkerEntry } from '../src/cli/main.ts'
import { runWorkerProcess } from '../src/queues/workers/process.ts'
import type { WalkWorkerOptions } from '../src/queues/workers/walk.ts'

/**
 * A walk worker in this process until SIGTERM/SIGINT, configured by the caller: no Redis checks and
 * no lazy-source hook, which the entry point (`exposure worker`) adds.
 */
export function runWalkWorkerProcess(options: WalkWorkerOptions): Promise<void> {
  return runWorkerProcess({ queues: ['walk'], walk: options })
}

runWorkerEntry(import.meta.url, 'walk')
