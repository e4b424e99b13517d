/**
 * `node --import tsx workers/check.ts [options]`: a process serving check jobs (exposure serve), the
 * same as `exposure worker --queues check [options]`. The worker itself is src/queues/workers/check.ts.
 */
import { runWorkerEntry } from '../src/cli/main.ts'

runWorkerEntry(import.meta.url, 'check')
