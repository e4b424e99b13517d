/**
 * `node --import tsx workers/rescan.ts [options]`: a process serving rescans (on EXPOSURE_RESCAN_CRON,
 * installed as a job scheduler), the same as `exposure worker --queues rescan [options]`. The worker
 * itself is src/queues/workers/rescan.ts.
 */
import { runWorkerEntry } from '../src/cli/main.ts'

runWorkerEntry(import.meta.url, 'rescan')
