import { createHash } from 'node:crypto'
import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq'
import type { Direction } from '../types.ts'
import { EVENTS_MAX_LEN, QUEUES } from './names.ts'

/**
 * A walk job is a *token*: "expand up to batchSize addresses from this direction's frontier".
 * The addresses themselves live in Redis (the frontier zset, written atomically with the labels),
 * so a token is idempotent: a duplicate or retried token finds the frontier as it is and does the
 * work that is left. Everything the expansion needs rides along, so a worker reads no config.
 */
export interface WalkJobData {
  runId: string
  direction: Direction
  maxHops: number
  batchSize: number
  stopCategories: string[]
  counterpartyCap: number
  /** Dust floors by asset ('ETH' or token address), decimal strings (bigint is not JSON). */
  dust: Record<string, string>
}

export const WALK_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 200 },
  removeOnComplete: true,
  removeOnFail: { count: 1000 },
}

export function createWalkQueue(connection: ConnectionOptions, prefix: string): Queue<WalkJobData> {
  const queue = new Queue<WalkJobData>(QUEUES.walk, { connection, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } })
  // Connection errors surface through the commands that use the queue; an unheard 'error' event would crash the process.
  queue.on('error', () => undefined)
  return queue
}

/**
 * Deterministic job ids (BullMQ forbids ':' in custom ids): a retried job re-adds the same
 * follow-up ids, which BullMQ ignores while they exist.
 */
export function followUpJobId(parentId: string, index: number): string {
  return createHash('sha1').update(`${parentId}/${index}`).digest('hex').slice(0, 24)
}

export function initialJobId(runId: string, direction: Direction, index: number): string {
  return `${runId}-${direction}-init-${index}`
}

export async function addWalkTokens(queue: Queue<WalkJobData>, data: WalkJobData, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return
  await queue.addBulk(ids.map((jobId) => ({ name: `expand-${data.direction}`, data, opts: { ...WALK_JOB_OPTIONS, jobId } })))
}
