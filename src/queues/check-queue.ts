import { createHash } from 'node:crypto'
import { Queue, QueueEvents, type ConnectionOptions, type Job, type JobsOptions } from 'bullmq'
import type { CheckJobData, CheckJobResult } from '../screen/check-job.ts'
import { EVENTS_MAX_LEN, QUEUES } from './names.ts'

/**
 * Check jobs (src/screen/check-job.ts) are deduplicated by their id: the address and the basis
 * they are answered on (published walk, seed-set version, source and block range). Concurrent
 * screenings of one new wallet, from any server process, add the same id: BullMQ keeps one job.
 * Completed jobs stay an hour (their result is in the record anyway); failed ones an hour too,
 * and a screening that finds its job failed retries it.
 */
export const CHECK_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 3_600, count: 1_000 },
}

export type CheckQueue = Queue<CheckJobData, CheckJobResult>

export function createCheckQueue(connection: ConnectionOptions, prefix: string): CheckQueue {
  const queue = new Queue<CheckJobData, CheckJobResult>(QUEUES.check, { connection, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } })
  // Connection errors surface through the commands that use the queue; an unheard 'error' event would crash the process.
  queue.on('error', () => undefined)
  return queue
}

export function createCheckEvents(connection: ConnectionOptions, prefix: string): QueueEvents {
  const events = new QueueEvents(QUEUES.check, { connection, prefix })
  events.on('error', () => undefined)
  return events
}

/** The dedup key: `<hex40>-<16 hex of the basis>` (no ':', which BullMQ forbids in custom ids). */
export function checkJobId(data: Pick<CheckJobData, 'address' | 'source' | 'throughBlock' | 'basis'>): string {
  const basis = `${data.basis.runId ?? ''}|${data.basis.seedVersion}|${data.source}|${data.throughBlock}`
  return `${data.address.slice(2)}-${createHash('sha1').update(basis).digest('hex').slice(0, 16)}`
}

/** The address a check id is about (lowercase 0x + 40 hex), or null when it is not a check id. */
export function checkIdAddress(checkId: string): `0x${string}` | null {
  const match = /^([0-9a-f]{40})-[0-9a-f]{16}$/.exec(checkId)
  return match ? `0x${match[1]}` : null
}

/** Adds the job (or finds the one with its id) and retries it when it had failed. */
export async function addCheckJob(queue: CheckQueue, data: CheckJobData): Promise<Job<CheckJobData, CheckJobResult>> {
  const jobId = checkJobId(data)
  const job = await queue.add('check', data, { ...CHECK_JOB_OPTIONS, jobId })
  if ((await job.getState()) === 'failed') await job.retry('failed')
  return job
}
