/**
 * `node --import tsx workers/deliver.ts [options]`: a process serving webhook deliveries, the same as
 * `exposure worker --queues deliver [options]`. The worker itself is src/queues/workers/deliver.ts.
 */
import { runWorkerEntry } from '../src/cli/main.ts'

runWorkerEntry(import.meta.url, 'deliver')
