import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { basename, resolve } from 'node:path'
import type { Job, Queue } from 'bullmq'
import { BaseError, InputError, isExposureError, type ErrorCode, type ErrorDetails } from '../errors.ts'
import { failpoint } from '../failpoints.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { etlIngestJobId, etlPrepareJobId, ETL_INGEST_JOB_OPTIONS, type EtlIngestJobData, type EtlJobData, type EtlPrepareJobData } from '../queues/ingest-queue.ts'
import { PARTITIONS } from '../store/partitions.ts'
import type { PreparedPartition } from '../store/commit.ts'
import { ETH, type Asset } from '../types.ts'
import type { EtlKind } from './etl.ts'
import { splitEtlFileRanges, type ByteRange } from './etl-ranges.ts'
import { commitImport, describeFiles, resolveEtlFiles, stageEtlFiles, summarize, type FileSummary, type ImportOptions, type ImportSummary } from './etl-import.ts'

/**
 * Imports that scale out: `exposure import --ingest-workers N` splits an etl import into ingest
 * jobs (files) that any `exposure worker --queues ingest` on any host runs, each staging its rows
 * into the same import; the command commits once when every job is done. All or nothing as a
 * plain import: a bad row in any file drops the whole import (exit 2, naming file:line and field).
 *
 * Jobs are files: ethereum-etl exports come split by block range (transactions_00000000_00099999.csv
 * …), so files are the natural unit. A plain CSV file larger than the range size (BigQuery exports,
 * hand-made dumps) is cut into byte ranges, one job each (etl-ranges.ts); a gzip file stays whole
 * (a gzip stream cannot be entered in the middle), and so do receipts and the transactions they
 * complete, which are joined in memory.
 */

/** Files larger than this are cut into byte ranges of about this size (--ingest-range). */
export const DEFAULT_RANGE_BYTES = 256 * 1024 * 1024

type PlannedFile = { file: string; kind: EtlKind; size: number; range?: ByteRange }

/** Cuts each large file that is a job of its own into byte-range jobs. */
export async function splitLargeFiles(groups: readonly PlannedFile[][], rangeBytes: number): Promise<PlannedFile[][]> {
  const out: PlannedFile[][] = []
  for (const group of groups) {
    const only = group.length === 1 ? group[0]! : null
    const ranges = only === null || only.kind === 'receipts' ? null : await splitEtlFileRanges(only.file, only.size, rangeBytes)
    if (ranges === null) out.push(group)
    else for (const range of ranges) out.push([{ ...only!, size: range.end - range.start, range }])
  }
  return out
}

/** What a job answers: its files' summaries, or the bad row that refuses the import. */
export type EtlIngestResult =
  | { ok: true; files: FileSummary[]; transfers: number; invalid: SerializedError[]; host: string }
  | { ok: false; error: SerializedError; host: string }
  | { gone: true }

/** What a prepare job answers: its partitions' results, or that its commit attempt has ended. */
export type EtlPrepareResult = { ok: true; partitions: PreparedPartition[]; host: string } | { gone: true }

interface SerializedError {
  code: ErrorCode
  message: string
  details: ErrorDetails
}

/**
 * Groups an import's files into jobs. Transactions without a receipt_status column take their
 * status from receipts files read before them in the same process (receipts do not wait in the
 * store as token transfers do), so when there are receipts, they and every transactions file form
 * one job. Otherwise a token transfers file goes with the transactions file of the same block
 * range, as ethereum-etl names them (`transactions_00000000_00099999.csv`,
 * `token_transfers_00000000_00099999.csv`: the same name after the table's), so that the job joins
 * its token transfers to their transactions in memory, as a plain import does, instead of leaving
 * them to the commit's join, which no worker shares; but only while the job stays within
 * `maxJobBytes`: a larger transactions file is read faster as byte ranges by many jobs
 * (splitLargeFiles), and its token transfers are then joined at the commit. Every other file is a
 * job of its own. Token transfers whose transaction another job reads wait in the import's
 * staging and are joined at commit, as across import commands.
 */
export function planEtlJobs<F extends { file: string; kind: EtlKind; size: number }>(files: readonly F[], maxJobBytes = Number.POSITIVE_INFINITY): F[][] {
  const hasReceipts = files.some((f) => f.kind === 'receipts')
  const jobs: F[][] = []
  const joined = files.filter((f) => hasReceipts && (f.kind === 'receipts' || f.kind === 'transactions'))
  if (joined.length > 0) jobs.push(joined)
  // Transactions files by their block range, each the first file of its job.
  const byRange = new Map<string, F[]>()
  for (const f of files) {
    if (joined.includes(f)) continue
    const range = f.kind === 'transactions' && !hasReceipts ? blockRangeOf(f.file, f.kind) : null
    const job = [f]
    if (range !== null && !byRange.has(range)) byRange.set(range, job)
    jobs.push(job)
  }
  // Token transfers join the job of their range's transactions (files come ordered by kind, so
  // the transactions are read first).
  return jobs.filter((job) => {
    const f = job[0]!
    if (job.length !== 1 || f.kind !== 'token_transfers') return true
    const range = blockRangeOf(f.file, f.kind)
    const into = range === null ? undefined : byRange.get(range)
    if (into === undefined || into.reduce((sum, g) => sum + g.size, f.size) > maxJobBytes) return true
    into.push(f)
    return false
  })
}

/** What an etl file's name says after its table's name (its block range, e.g. `_00000000_00099999`), or null when nothing. */
function blockRangeOf(file: string, kind: EtlKind): string | null {
  const name = basename(file).toLowerCase().replace(/\.csv(\.gz)?$/, '')
  const rest = name.slice(kind.length)
  return rest === '' ? null : rest
}

/**
 * Runs one etl ingest job (the processor `exposure worker` wires to BullMQ): stages its files into
 * the import, which another process holds and will commit. Bad input is answered, not thrown, so
 * that it is not retried and the coordinator can name it; faults are thrown (BullMQ retries).
 */
export async function runEtlIngestJob(store: GraphStore, data: EtlIngestJobData, onBytes?: (bytes: number) => void): Promise<EtlIngestResult> {
  const host = hostname()
  if ((await store.redis.exists(store.keys.importRecord(data.importId))) === 0) return { gone: true }
  store.imports.adopt(data.importId)
  try {
    const assetIds = await store.internAssets([ETH, ...data.listedTokens] as Asset[])
    const read = await stageEtlFiles(store, data.importId, data.files, assetIds, {
      listedTokens: data.listedTokens as ImportOptions['listedTokens'],
      skipInvalid: data.skipInvalid,
      onBytes: (bytes) => onBytes?.(bytes),
    })
    failpoint('ingest:staged')
    return { ok: true, files: read.files, transfers: read.transfers, invalid: read.invalid.map(serialize), host }
  } catch (error) {
    if (isExposureError(error, 'IMPORT_GONE')) return { gone: true }
    if (isExposureError(error) && error.isBadInput) return { ok: false, error: serialize(error), host }
    throw error
  } finally {
    store.imports.unregister(data.importId)
  }
}

/**
 * Runs one prepare job of an etl import's commit (the processor `exposure worker` wires to
 * BullMQ): merges its partitions' staged records into journal parts for the committing command's
 * attempt. A job whose attempt has ended answers `gone` (its writes would be refused).
 */
export async function runEtlPrepareJob(store: GraphStore, data: EtlPrepareJobData): Promise<EtlPrepareResult> {
  try {
    const partitions = await store.imports.prepareForAttempt(data.importId, data.attempt, data.partitions)
    failpoint('ingest:prepared')
    return { ok: true, partitions, host: hostname() }
  } catch (error) {
    if (isExposureError(error, 'IMPORT_GONE')) return { gone: true }
    throw error
  }
}

/** Partitions per prepare job: enough jobs for many workers to share, few enough that queueing costs nothing. */
const PARTITIONS_PER_PREPARE_JOB = 8

export interface DistributedImportOptions extends ImportOptions {
  /** The queue the jobs go to (createEtlIngestQueue on the store's queue prefix). */
  queue: Queue<EtlJobData>
  /** Starts the in-process workers (0 or more) and answers how to close them. */
  startWorkers: () => { close(force: boolean): Promise<void> }[]
  /** Called when no worker has served the queue for a few seconds (say how to start one). */
  onNoWorker?: (jobs: number) => void
  /** Plain files larger than this are read as byte ranges by several jobs (0: whole files). Default DEFAULT_RANGE_BYTES. */
  rangeBytes?: number
}

const POLL_MS = 200
const NO_WORKER_NOTE_MS = 3_000

/**
 * Imports etl files through ingest jobs: registers the import (this process holds it), queues one
 * job per file group, waits for them, then commits once. On bad input, a job failing for good, or
 * Ctrl-C, the queued jobs are withdrawn and the import is dropped: jobs still running elsewhere
 * find it gone at their next batch (append-many.lua) and stage nothing more.
 */
export async function importEtlAsJobs(store: GraphStore, paths: readonly string[], options: DistributedImportOptions): Promise<ImportSummary> {
  const startedAt = Date.now()
  const files = (await resolveEtlFiles(paths)).map((f) => ({ ...f, file: resolve(f.file) }))
  // Planned (large files cut, one pass each) before the import is registered: nothing to drop if
  // this is interrupted.
  const rangeBytes = options.rangeBytes ?? DEFAULT_RANGE_BYTES
  const groups = await splitLargeFiles(planEtlJobs(files, rangeBytes > 0 ? rangeBytes : Number.POSITIVE_INFINITY), rangeBytes)
  if (options.signal?.aborted) throw new BaseError('INTERRUPTED', 'import interrupted while its files were being planned: nothing of it reached the store')
  await store.internAssets([ETH, ...options.listedTokens] as Asset[])
  const importId = `etl${randomBytes(5).toString('hex')}`
  await store.beginImport(importId, 'etl', describeFiles(files.map((f) => f.file)))
  // What the jobs read (a byte range is its bytes, without the header line it repeats).
  const totalBytes = groups.flat().reduce((sum, f) => sum + f.size, 0)
  const jobIds = groups.map((_, part) => etlIngestJobId(importId, part))
  const workers = options.startWorkers()
  let failed = false
  try {
    await options.queue.addBulk(
      groups.map((group, part) => ({
        name: 'etl-files',
        data: { source: 'etl' as const, importId, part, files: group as EtlIngestJobData['files'], listedTokens: [...options.listedTokens], skipInvalid: options.skipInvalid ?? false },
        opts: { ...ETL_INGEST_JOB_OPTIONS, jobId: jobIds[part]! },
      })),
    )
    const results = await waitForJobs(options, jobIds, totalBytes)
    const readAt = Date.now()
    await store.imports.setState(importId, 'staged')
    failpoint('import:staged')
    const fileSummaries: FileSummary[] = []
    const invalid: InputError[] = []
    for (const result of results) {
      fileSummaries.push(...result.files)
      for (const e of result.invalid) if (invalid.length < 20) invalid.push(new InputError(e.code, e.message, e.details))
    }
    // In the order a plain import reads them (resolveEtlFiles), whichever job read them.
    const order = new Map(files.map((f, i) => [f.file, i]))
    fileSummaries.sort((a, b) => order.get(a.file)! - order.get(b.file)!)
    mergeRangeSummaries(fileSummaries)
    const transfers = results.reduce((sum, r) => sum + r.transfers, 0)
    // The commit's prepare step runs as jobs too: the workers that read the files merge them.
    const committed = await commitImport(store, importId, { ...options, prepare: (attempt) => prepareThroughJobs(options, importId, attempt, transfers) }, transfers)
    // Their results are in the summary now.
    await withdraw(options.queue, jobIds)
    const waitingBefore = fileSummaries.map((f) => f.skipped['unknown-transaction'] ?? 0)
    const summary = summarize(importId, fileSummaries, invalid, committed, startedAt, readAt)
    // A token transfer whose transaction another job of this import read was joined at commit; a
    // plain import joins it while reading and counts it as a transfer of its file: so here too.
    let joined = 0
    fileSummaries.forEach((f, i) => {
      const n = waitingBefore[i]! - (f.skipped['unknown-transaction'] ?? 0)
      f.transfers += n
      joined += n
    })
    return { ...summary, jobs: groups.length, transfersCounted: summary.transfersCounted + joined, tokensResolved: Math.max(0, summary.tokensResolved - joined) }
  } catch (error) {
    failed = true
    const state = await store.redis.hget(store.keys.importRecord(importId), 'state').catch(() => null)
    if (state !== 'committing') {
      await withdraw(options.queue, jobIds)
      await store.abort(importId).catch(() => undefined)
    }
    throw error
  } finally {
    await Promise.all(workers.map((w) => w.close(failed).catch(() => undefined)))
  }
}

/** One summary per file: the ranges of a file (adjacent once sorted) summed into the first. */
function mergeRangeSummaries(summaries: FileSummary[]): void {
  for (let i = summaries.length - 1; i > 0; i--) {
    const [into, from] = [summaries[i - 1]!, summaries[i]!]
    if (into.file !== from.file) continue
    into.rows += from.rows
    into.transfers += from.transfers
    for (const [reason, n] of Object.entries(from.skipped) as [keyof FileSummary['skipped'], number][]) into.skipped[reason] = (into.skipped[reason] ?? 0) + n
    summaries.splice(i, 1)
  }
}

/**
 * The commit's prepare step as jobs (`prepare` of store.commit): one job per few partitions,
 * queued ahead of other imports' file jobs, for attempt `attempt`; answers every partition's
 * result. On any failure the commit ends the attempt, so jobs still queued or running write
 * nothing; they are withdrawn here too, so that they cost nothing.
 */
async function prepareThroughJobs(options: DistributedImportOptions, importId: string, attempt: string, transfers: number): Promise<PreparedPartition[]> {
  const queue = options.queue as unknown as Queue<EtlPrepareJobData, EtlPrepareResult>
  const groups: number[][] = []
  for (let p = 0; p < PARTITIONS; p += PARTITIONS_PER_PREPARE_JOB) groups.push(Array.from({ length: Math.min(PARTITIONS_PER_PREPARE_JOB, PARTITIONS - p) }, (_, i) => p + i))
  const jobIds = groups.map((_, k) => etlPrepareJobId(importId, attempt, k))
  try {
    await queue.addBulk(
      groups.map((partitions, k) => ({
        name: 'etl-prepare',
        data: { source: 'etl-prepare' as const, importId, attempt, partitions },
        // lifo: ahead of file jobs other imports queued meanwhile (this import holds the writer lock).
        opts: { ...ETL_INGEST_JOB_OPTIONS, jobId: jobIds[k]!, lifo: true },
      })),
    )
    const results = await awaitJobs(queue, jobIds, {
      ...(options.signal ? { signal: options.signal } : {}),
      interrupted: `interrupted before the commit point of import ${importId}: nothing of it reached the store`,
      describe: (data) => `prepare job of partitions ${data.partitions[0]}–${data.partitions[data.partitions.length - 1]}`,
      accept: (result, id) => {
        if ('gone' in result) throw new BaseError('INTERNAL', `prepare job ${id} found its commit attempt ended`, { value: id })
        return result.partitions
      },
      onPoll: (finished) => {
        let done = 0
        for (const partitions of finished.values()) done += partitions.length
        options.onProgress?.({ phase: 'prepare', done, total: PARTITIONS, transfers })
      },
      ...(options.onNoWorker ? { onNoWorker: options.onNoWorker } : {}),
      // Prepare jobs take a fraction of a second: a long poll would be most of the step's time.
      pollMs: 25,
    })
    return results.flat()
  } finally {
    await withdraw(queue, jobIds)
  }
}

/** Waits for every file job; answers their results in job order, or throws what refuses the import. */
async function waitForJobs(options: DistributedImportOptions, jobIds: readonly string[], totalBytes: number): Promise<Extract<EtlIngestResult, { ok: true }>[]> {
  const queue = options.queue as unknown as Queue<EtlIngestJobData, EtlIngestResult>
  const sizes = new Map<string, number>()
  return awaitJobs(queue, jobIds, {
    ...(options.signal ? { signal: options.signal } : {}),
    interrupted: 'import interrupted while its files were being read: nothing of it reached the store',
    describe: (data) => `ingest job (${data.files.map((f) => f.file).join(', ')})`,
    accept: (result, id, job) => {
      if ('gone' in result) throw new BaseError('INTERNAL', `ingest job ${id} found its import gone`, { value: id })
      if (!result.ok) throw new InputError(result.error.code, result.error.message, result.error.details)
      sizes.set(id, job.data.files.reduce((sum, f) => sum + f.size, 0))
      return result
    },
    onPoll: (finished, running) => {
      let bytes = 0
      for (const id of finished.keys()) bytes += sizes.get(jobIds[id]!) ?? 0
      for (const job of running) if (typeof job.progress === 'number') bytes += job.progress
      let transfers = 0
      for (const result of finished.values()) transfers += result.transfers
      options.onProgress?.({ phase: 'read', done: bytes, total: totalBytes, transfers })
    },
    ...(options.onNoWorker ? { onNoWorker: options.onNoWorker } : {}),
  })
}

interface AwaitJobsOptions<D, R, T> {
  signal?: AbortSignal
  /** The message of the error thrown when `signal` aborts. */
  interrupted: string
  /** The job, for the message when it failed for good. */
  describe: (data: D) => string
  /** A completed job's result as the caller wants it; throws what refuses the import. */
  accept: (result: R, id: string, job: Job<D, R>) => T
  /** After each poll: the finished jobs by index, and the jobs still open. */
  onPoll?: (finished: ReadonlyMap<number, T>, open: readonly Job<D, R>[]) => void
  /** Called once when no worker has served the queue for a few seconds. */
  onNoWorker?: (open: number) => void
  /** Between polls. Default POLL_MS. */
  pollMs?: number
}

/** Polls jobs until every one has completed; answers their accepted results in job order. */
async function awaitJobs<D, R, T>(queue: Queue<D, R>, jobIds: readonly string[], options: AwaitJobsOptions<D, R, T>): Promise<T[]> {
  let servedAt = Date.now()
  let lastWorkerCheck = 0
  let told = false
  // Finished jobs by index: each poll reads only the jobs still open.
  const finished = new Map<number, T>()
  for (;;) {
    if (options.signal?.aborted) throw new BaseError('INTERRUPTED', options.interrupted)
    const open = jobIds.map((_, i) => i).filter((i) => !finished.has(i))
    const jobs = (await Promise.all(open.map((i) => queue.getJob(jobIds[i]!)))) as (Job<D, R> | undefined)[]
    const states = await Promise.all(jobs.map((job) => job?.getState() ?? 'missing'))
    const running: Job<D, R>[] = []
    for (let k = 0; k < open.length; k++) {
      const i = open[k]!
      const job = jobs[k]
      const state = states[k]
      if (job === undefined || state === 'missing' || state === 'unknown') throw new BaseError('INTERNAL', `job ${jobIds[i]} vanished from the queue (removed by hand, or Redis lost its data)`, { value: jobIds[i]! })
      if (state === 'failed') throw new BaseError('INTERNAL', `job ${jobIds[i]} (${options.describe(job.data)}) failed for good: ${job.failedReason ?? 'unknown reason'}`, { value: jobIds[i]! })
      if (state === 'completed') {
        // The job was read before it completed: read it again for its result.
        const result = job.returnvalue ?? ((await queue.getJob(jobIds[i]!)) as Job<D, R> | undefined)?.returnvalue
        if (result === undefined || result === null) continue
        finished.set(i, options.accept(result, jobIds[i]!, job))
      } else running.push(job)
    }
    options.onPoll?.(finished, running)
    if (finished.size === jobIds.length) return jobIds.map((_, i) => finished.get(i)!)
    // A job a dead worker held stays 'active' until a live worker's stalled check takes it back:
    // ask whether anyone serves the queue, not whether jobs move.
    if (!told && Date.now() - lastWorkerCheck > 1_000) {
      lastWorkerCheck = Date.now()
      if ((await queue.getWorkersCount().catch(() => -1)) !== 0) servedAt = Date.now()
      else if (Date.now() - servedAt > NO_WORKER_NOTE_MS) {
        told = true
        options.onNoWorker?.(jobIds.length - finished.size)
      }
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? POLL_MS))
  }
}

/** Removes the jobs not yet taken (and finished ones); running ones end at their next batch (the import is gone). */
async function withdraw(queue: { remove(jobId: string): Promise<number> }, jobIds: readonly string[]): Promise<void> {
  await Promise.all(jobIds.map((id) => queue.remove(id).catch(() => 0)))
}

function serialize(error: BaseError): SerializedError {
  return { code: error.code, message: error.shortMessage, details: error.details }
}
