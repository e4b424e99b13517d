/**
 * `node --import tsx workers/ingest.ts [options]`: a process serving ingest jobs (the etl files of
 * exposure import --ingest-workers, and sync's block ranges when a node is configured), the same as
 * `exposure worker --queues ingest [options]`. The workers themselves are src/queues/workers/ingest.ts.
 */
import { runWorkerEntry } from '../src/cli/main.ts'

runWorkerEntry(import.meta.url, 'ingest')
