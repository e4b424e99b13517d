import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq'
import type { ByteRange } from '../sources/etl-ranges.ts'
import { EVENTS_MAX_LEN, QUEUES } from './names.ts'

/**
 * An ingest job of `exposure sync`: "read blocks [from, to] from the node and write them as
 * final". Idempotent (the store de-duplicates at commit), so a retried or duplicated job changes
 * nothing. The node's URL is not in the job (it may carry an API key): each worker has its own
 * configuration.
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

/**
 * An etl ingest job of `exposure import --ingest-workers N` (its own queue, QUEUES.etlIngest, so
 * that a sync waiting for its ranges never waits for an import's files): "read these etl files and stage their
 * rows into import `importId`" (sources/etl-ingest.ts). The coordinator commits the import once
 * every job is done; staging the same rows twice (a job retried after its worker died) changes
 * nothing at commit. Paths are absolute and must name the same files on every worker host.
 */
export interface EtlIngestJobData {
  source: 'etl'
  importId: string
  /** Position of the job in its import (its id's suffix). */
  part: number
  /** Whole files, or byte ranges of large ones (sources/etl-ranges.ts). */
  files: { file: string; kind: 'transactions' | 'traces' | 'token_transfers' | 'receipts'; size: number; range?: ByteRange }[]
  listedTokens: string[]
  skipInvalid: boolean
}

/**
 * A prepare job of an etl import's commit (`exposure import --ingest-workers N`, same queue as
 * its file jobs): "merge these partitions' staged records into journal parts for commit attempt
 * `attempt`" (store/commit.ts prepareForAttempt). Parts are written only while that attempt is
 * the partition's current one, so a late or duplicate job changes nothing.
 */
export interface EtlPrepareJobData {
  source: 'etl-prepare'
  importId: string
  attempt: string
  partitions: number[]
}

/** What the etl ingest queue carries. */
export type EtlJobData = EtlIngestJobData | EtlPrepareJobData

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

export const ETL_INGEST_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3_600 },
  removeOnFail: { count: 1000 },
}

export function createEtlIngestQueue(connection: ConnectionOptions, prefix: string): Queue<EtlJobData> {
  const queue = new Queue<EtlJobData>(QUEUES.etlIngest, { connection, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } })
  queue.on('error', () => undefined)
  return queue
}

/** Deterministic, without ':' (BullMQ forbids it in custom ids). */
export function etlIngestJobId(importId: string, part: number): string {
  return `etl-${importId}-${part}`
}

export function etlPrepareJobId(importId: string, attempt: string, part: number): string {
  return `etl-${importId}-prepare-${attempt}-${part}`
}
