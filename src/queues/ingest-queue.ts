import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq'
import { EVENTS_MAX_LEN, QUEUES } from './names.ts'

/**
 * An ingest job: "read blocks [from, to] from the node and write them as final". Idempotent (the
 * store de-duplicates at commit), so a retried or duplicated job changes nothing. The node's URL
 * is not in the job (it may carry an API key): each worker has its own configuration.
 */
export interface IngestJobData {
  source: 'rpc'
  from: number
  to: number
  /**
   * Token contracts whose `Transfer` logs count, as the coordinator (`exposure sync`) was
   * configured: a separate `exposure worker` then writes what the coordinator would have, whatever
   * its own EXPOSURE_ASSETS says. Absent in older jobs: the worker's own configuration is used.
   */
  listedTokens?: string[]
}

export const INGEST_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
}

export function createIngestQueue(connection: ConnectionOptions, prefix: string): Queue<IngestJobData> {
  const queue = new Queue<IngestJobData>(QUEUES.ingest, { connection, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } })
  // Connection errors surface through the commands that use the queue; an unheard 'error' event would crash the process.
  queue.on('error', () => undefined)
  return queue
}

/** Deterministic, without ':' (BullMQ forbids it in custom ids). */
export function ingestJobId(data: IngestJobData): string {
  return `${data.source}-${data.from}-${data.to}`
}

/** Splits [from, to] into ranges of `size` blocks, aligned to multiples of `size` so re-runs give the same ids. */
export function splitRange(from: number, to: number, size: number): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = []
  let start = from
  while (start <= to) {
    const end = Math.min(to, (Math.floor(start / size) + 1) * size - 1)
    out.push({ from: start, to: end })
    start = end + 1
  }
  return out
}

export async function addIngestJobs(queue: Queue<IngestJobData>, jobs: readonly IngestJobData[]): Promise<void> {
  for (let i = 0; i < jobs.length; i += 500) {
    await queue.addBulk(jobs.slice(i, i + 500).map((data) => ({ name: `${data.source}-range`, data, opts: { ...INGEST_JOB_OPTIONS, jobId: ingestJobId(data) } })))
  }
}
