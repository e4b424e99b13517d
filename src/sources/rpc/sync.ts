/**
 * `exposure sync`: block sync from a JSON-RPC node into the graph store.
 *
 * The store knows exactly which final block ranges it holds (its coverage, ingest.ts). A sync
 * reads the parts of the asked range [from, to] the coverage lacks (below, between or above what
 * is held) as BullMQ ingest jobs (`rpc-<from>-<to>`), run by in-process workers and/or
 * `exposure worker` processes, and waits until the coverage holds the whole range. Everything it
 * could refuse (a range beyond the head or above the finality line, another chain) is refused
 * before anything is written. One sync per store at a time: a second one waits for the first
 * (P:lock:sync) and says so.
 *
 * Forks (forks.ts): every range read must link to the stored blocks around it; the coordinator
 * checks the links between its jobs' ranges, and compares the top of every stored stretch with
 * the node at the start and on every follow step. A fork is rolled back from its fork point,
 * however deep, and read again.
 *
 * With `follow`, the coordinator also writes the blocks above the finality line as tentative
 * (in-process: there is one head to follow). While the node is unreachable it backs off and
 * carries on. SIGINT/SIGTERM (`signal`) end a follow normally; they interrupt any other sync:
 * queued ranges are withdrawn, ranges being written finish, INTERRUPTED says what is held.
 */
import type { Job } from 'bullmq'
import { BaseError, InputError, isExposureError } from '../../errors.ts'
import type { GraphStore } from '../../store/graph-store.ts'
import { describeHolder } from '../../store/holder.ts'
import { acquireLock } from '../../store/locks.ts'
import { addIngestJobs, createIngestQueue, splitRange, type IngestJobData } from '../../queues/ingest-queue.ts'
import type { Address } from '../../types.ts'
import { quietDuplicate } from '../../store/redis.ts'
import { startIngestWorker } from '../../queues/workers/ingest.ts'
import { createRpcClient, isRetryable, type RpcClient, type RpcClientOptions, type RpcStats } from './client.ts'
import { detectCapabilities, type RpcCapabilities } from './capabilities.ts'
import { assertSameChain, nodeChain, readStoreChain, recordChain, type ChainIdentity } from './chain.ts'
import { brokenLink, finishRecordedRollback, resolveForks, rollBack, storedStretches, tentativeBlocks, type ForkContext, type ForkReport } from './forks.ts'
import {
  describeRanges,
  finalThrough,
  ingestRange,
  LINK_BROKEN,
  mergeRanges,
  migrateLegacyCoverage,
  readCoverage,
  subtractRanges,
  syncKeys,
  type BlockRange,
  type IngestContext,
} from './ingest.ts'

/** Most in-process ingest workers a sync starts (each holds connections and a node client). */
export const MAX_INGEST_WORKERS = 64

export interface SyncOptions {
  redisUrl: string
  rpcUrl: string
  listedTokens: readonly Address[]
  /** First block. Default: the first block the store holds (so a sync without it continues, and fills holes). */
  fromBlock?: number
  /** Last block to sync; default: the finality line. A block above the finality line is refused (unless following). */
  toBlock?: number
  follow?: boolean
  /** Head − confirmations is final. When undefined, the node's `finalized` tag is used if it has one, else head − 64. */
  confirmations?: number
  rangeSize: number
  /** In-process ingest workers, 0 to MAX_INGEST_WORKERS (0: rely on `exposure worker`). Default 2. */
  workers?: number
  concurrency?: number
  rpc?: Omit<RpcClientOptions, 'url'>
  /** Follow: poll interval (ms). Default 1 000. */
  pollMs?: number
  /** Follow: waits while the node is unreachable, doubled per failure (ms). Default 1 000 up to 30 000. */
  backoff?: { initialMs?: number; maxMs?: number }
  /** Ends a follow; interrupts any other sync (INTERRUPTED). */
  signal?: AbortSignal
  onProgress?: (p: SyncProgress) => void
  onEvent?: (e: SyncEvent) => void
  /** One line worth telling a person (waiting for another sync or for workers, a finished rollback). */
  onNote?: (line: string) => void
}

export interface SyncProgress {
  done: number
  total: number
}

export type SyncEvent =
  | { type: 'final'; from: number; to: number }
  | { type: 'tentative'; from: number; to: number }
  /** A fork rolled back (to be read again); `belowFinality`: blocks written as final were replaced. */
  | { type: 'reorg'; from: number; to: number; transfersRemoved: number; belowFinality: boolean }
  /** Follow: the node is unreachable; the next try is in `retryInMs`. */
  | { type: 'node-down'; error: string; retryInMs: number }
  | { type: 'node-up'; downMs: number }

export interface SyncSummary {
  capabilities: RpcCapabilities
  chain: ChainIdentity
  fromBlock: number
  /** Every block from the first synced block up to this one is in the store as final (the end of the first covered range). */
  finalThrough: number | null
  /** The final block ranges the store holds now. */
  coverage: BlockRange[]
  /** The ranges this sync read (the asked range minus what was held). */
  read: BlockRange[]
  /** The highest block written above the finality line (follow only). */
  tentativeThrough: number | null
  jobs: number
  reorgs: number
  /** Forks found and rolled back (then read again). */
  forks: ForkReport[]
  seconds: number
  rpc: RpcStats
}

/** Rounds of "read what is missing" a sync makes before it calls the chain unstable. */
const MAX_ROUNDS = 8
/** No progress for this long while no worker serves the queue: say so. */
const WORKER_NOTICE_MS = 2_000
/** While jobs are retried, or nothing moved for this long, ask the node directly whether it is there. */
const STALL_PROBE_MS = 5_000
const PROBE_EVERY_MS = 3_000

/** Thrown inside the follow loop when the signal ends it. */
const STOPPED = Symbol('stopped')

export async function runSync(store: GraphStore, options: SyncOptions): Promise<SyncSummary> {
  const startedAt = Date.now()
  if (options.rpcUrl === '') throw new InputError('INVALID_CONFIG', 'no Ethereum node configured: pass --rpc-url or set RPC_URL', { field: 'rpcUrl' })
  const workerCount = options.workers ?? 2
  if (!Number.isInteger(workerCount) || workerCount < 0 || workerCount > MAX_INGEST_WORKERS) {
    throw new InputError('INVALID_ARGUMENT', `workers must be a whole number of ingest workers from 0 to ${MAX_INGEST_WORKERS}: ${workerCount}`, { field: 'workers', value: String(workerCount) })
  }
  if (!Number.isInteger(options.rangeSize) || options.rangeSize < 1) throw new InputError('INVALID_ARGUMENT', `the range size must be a positive whole number of blocks: ${options.rangeSize}`, { field: 'range', value: String(options.rangeSize) })
  const note = options.onNote ?? (() => undefined)
  const emit = (e: SyncEvent) => options.onEvent?.(e)
  const signal = options.signal
  const follow = options.follow === true
  const client = createRpcClient({ url: options.rpcUrl, ...options.rpc })
  const caps = await detectCapabilities(client, options.rpcUrl)
  const keys = syncKeys(store.keys.prefix)
  const redis = store.redis
  const prefix = store.keys.prefix

  // Everything that can be refused is refused here, before anything is written.
  let line = await finalityLine(client, caps, options.confirmations)
  const held = await readCoverage(redis, keys)
  const fromBlock = options.fromBlock ?? held[0]?.from
  if (fromBlock === undefined) throw new InputError('INVALID_ARGUMENT', 'nothing synced yet: pass --from-block', { field: 'from-block' })
  if (options.toBlock !== undefined && options.toBlock > line.head) {
    throw new InputError('INVALID_ARGUMENT', `--to-block ${options.toBlock} is beyond the node's head (${line.head})`, { field: 'to-block', value: String(options.toBlock) })
  }
  if (options.toBlock !== undefined && options.toBlock < fromBlock) {
    throw new InputError('INVALID_ARGUMENT', `--to-block ${options.toBlock} is before ${options.fromBlock === undefined ? `the first block the store holds (${fromBlock}): pass --from-block` : `--from-block ${fromBlock}`}`, { field: 'to-block', value: String(options.toBlock) })
  }
  if (fromBlock > line.head) throw new InputError('INVALID_ARGUMENT', `--from-block ${fromBlock} is beyond the node's head (${line.head})`, { field: 'from-block', value: String(fromBlock) })
  if (!follow) {
    if (line.final < 0) throw new InputError('INVALID_ARGUMENT', `no block is final yet (${line.how}): wait, or pass fewer --confirmations`, { field: 'confirmations', value: String(options.confirmations ?? 'finalized tag') })
    if (options.toBlock !== undefined && options.toBlock > line.final) {
      throw new InputError('INVALID_ARGUMENT', `--to-block ${options.toBlock} is above the finality line (block ${line.final}: ${line.how}): blocks above it may still change; wait, pass a lower --to-block, or count head − N as final with --confirmations N`, { field: 'to-block', value: String(options.toBlock) })
    }
    if (fromBlock > line.final) {
      throw new InputError('INVALID_ARGUMENT', `--from-block ${fromBlock} is above the finality line (block ${line.final}: ${line.how}): nothing there is final yet; wait, or count head − N as final with --confirmations N`, { field: 'from-block', value: String(fromBlock) })
    }
  }
  const node = await nodeChain(client, caps.chainId)
  assertSameChain(prefix, await readStoreChain(redis, prefix), node, client.url)

  const lock = await acquireLock(redis, keys.lock, await store.holder(), {
    purpose: `syncing store ${prefix}`,
    wait: { onWait: (h) => note(`waiting for ${describeHolder(h)} to finish syncing store ${prefix}`), ...(signal ? { signal } : {}) },
  })
  const queueConnection = quietDuplicate(redis, { maxRetriesPerRequest: null })
  const queue = createIngestQueue(queueConnection, store.keys.queuePrefix)
  let workers: ReturnType<typeof startIngestWorker>[] = []
  const closedStats: RpcStats[] = []
  const closeWorkers = async (force = false) => {
    const closing = workers
    workers = []
    closedStats.push(...closing.map((w) => w.client.stats))
    await Promise.all(closing.map((w) => w.close(force)))
  }
  const forkCtx: ForkContext = { store, client, keys }
  const ctx: IngestContext = { store, client, caps, listedTokens: options.listedTokens, keys }
  const state = { jobs: 0, read: [] as BlockRange[], forks: [] as ForkReport[], tentativeThrough: null as number | null }
  let failing = false

  try {
    const chain = await recordChain(redis, prefix, node, client.url)
    await migrateLegacyCoverage(redis, keys)
    const recorded = await finishRecordedRollback(forkCtx)
    if (recorded !== null) note(`finished the rollback of blocks ${recorded.from}-${recorded.to} that an interrupted sync had begun`)
    await redis.set(keys.caps, JSON.stringify(caps))
    if (!caps.traceBlock && !caps.debugCallTracer) {
      note(`warning: the node at ${client.url} offers neither trace_block nor debug_traceBlockByNumber: internal ETH transfers are not synced`)
    }
    // Jobs left by a coordinator that is gone (this one holds the sync lock): start clean.
    await queue.obliterate({ force: true })
    workers = Array.from({ length: workerCount }, () =>
      startIngestWorker({ redisUrl: options.redisUrl, prefix, rpcUrl: options.rpcUrl, listedTokens: options.listedTokens, concurrency: options.concurrency ?? 2, ...(options.rpc ? { rpc: options.rpc } : {}) }),
    )
    await rolledBack(await resolveForks(forkCtx))

    if (!follow) {
      await syncFinal(fromBlock, options.toBlock ?? line.final)
      await promoteTentative(line.final)
    } else {
      await followHead()
    }
    const coverage = await readCoverage(redis, keys)
    await closeWorkers()
    return {
      capabilities: caps,
      chain,
      fromBlock,
      finalThrough: finalThrough(coverage),
      coverage,
      read: state.read,
      tentativeThrough: state.tentativeThrough,
      jobs: state.jobs,
      reorgs: state.forks.length,
      forks: state.forks,
      seconds: (Date.now() - startedAt) / 1000,
      rpc: totalStats([client.stats, ...closedStats]),
    }
  } catch (error) {
    failing = true
    throw error
  } finally {
    await closeWorkers(failing).catch(() => undefined)
    await queue.close().catch(() => undefined)
    queueConnection.disconnect()
    await lock.release()
  }

  /** Reports forks rolled back; true when there were any. */
  async function rolledBack(forks: readonly ForkReport[]): Promise<boolean> {
    for (const f of forks) {
      state.forks.push(f)
      emit({ type: 'reorg', ...f })
    }
    return forks.length > 0
  }

  /** Reads what the coverage lacks of [from, to] until it holds all of it. */
  async function syncFinal(from: number, to: number): Promise<void> {
    const relinked = new Set<number>()
    // What to hold at the end: the asked range, and stretches rolled back to be read again.
    const targets: BlockRange[] = [{ from, to }]
    for (let round = 0; ; round++) {
      if (to < from) return
      const coverageNow = await readCoverage(redis, keys)
      const gaps = mergeRanges(targets.flatMap((t) => subtractRanges(t, coverageNow)))
      if (gaps.length === 0) {
        if (round > 0) emit({ type: 'final', from, to })
        return
      }
      if (round >= MAX_ROUNDS) throw new BaseError('RPC_ERROR', `blocks ${describeRanges(gaps)} are still missing after ${MAX_ROUNDS} rounds of reading: the chain keeps changing under the sync`, { value: describeRanges(gaps) })
      state.read = mergeRanges([...state.read, ...gaps])
      const ranges = gaps.flatMap((g) => splitRange(g.from, g.to, options.rangeSize))
      await queue.clean(0, 0, 'failed')
      await addIngestJobs(queue, ranges.map((r): IngestJobData => ({ source: 'rpc', ...r, listedTokens: [...options.listedTokens] })))
      state.jobs += ranges.length
      const failed = await waitForJobs({ from, to }, gaps)
      if (failed === null) {
        const broken = await brokenLink(forkCtx, [...ranges.map((r) => r.from), ...gaps.map((g) => g.to + 1)])
        if (broken === null) continue
        if (await rolledBack(await resolveForks(forkCtx))) continue
        const readNow = state.read.some((r) => r.from <= broken.block && broken.block <= r.to)
        if (!readNow && !relinked.has(broken.block)) {
          // The parent recorded by an earlier sync does not match the block before it, which this
          // sync just read and checked against the node: the earlier read was wrong. Read it again.
          const stretch = (await storedStretches(forkCtx)).find((r) => r.from <= broken.block && broken.block <= r.to)
          const stretchEnd = stretch?.to ?? broken.block
          await rollBack(forkCtx, broken.block, stretchEnd)
          note(`block ${broken.block} as stored names parent ${broken.parent}, but block ${broken.block - 1} is ${broken.stored}: blocks ${broken.block}-${stretchEnd} were rolled back and are read again`)
          relinked.add(broken.block)
          targets.push({ from: broken.block, to: stretchEnd })
          continue
        }
        await rollBackOwn(broken.block)
        throw new BaseError('RPC_ERROR', `${LINK_BROKEN} at block ${broken.block}: it names parent ${broken.parent}, but the node's block ${broken.block - 1} is ${broken.stored}: the node at ${client.url} answers inconsistently; what this sync wrote from block ${broken.block} on was rolled back`, { field: 'block', value: String(broken.block) })
      }
      // A range failed for good: withdraw the rest and let the running ones finish first.
      await withdrawJobs()
      if (await rolledBack(await resolveForks(forkCtx))) continue
      const reason = failed.failedReason ?? 'unknown reason'
      if (reason.includes(LINK_BROKEN)) await rollBackOwn(failed.data.from)
      else if (follow && !(await nodeAnswers())) throw new BaseError('RPC_UNAVAILABLE', `the node at ${client.url} stopped answering (${reason})`, { value: client.url })
      throw new BaseError('RPC_ERROR', `ingest of blocks ${failed.data.from}-${failed.data.to} failed: ${reason}`, { value: failed.id ?? '' })
    }
  }

  /** Waits until no job is queued or running; answers the first job that failed for good, or null. */
  async function waitForJobs(span: BlockRange, gaps: readonly BlockRange[]): Promise<Job<IngestJobData> | null> {
    const total = gaps.reduce((n, g) => n + g.to - g.from + 1, 0)
    const started = Date.now()
    let lastSignature = ''
    let lastChange = Date.now()
    let lastProbe = 0
    let lastWorkerCheck = 0
    let told = false
    let announced = false
    let serving = -1
    for (;;) {
      lock.assertHeld()
      if (signal?.aborted) {
        await withdrawJobs()
        if (follow) throw STOPPED
        await closeWorkers()
        const coverage = await readCoverage(redis, keys)
        throw new BaseError('INTERRUPTED', `interrupted: blocks ${describeRanges(coverage)} are in the store (final through block ${finalThrough(coverage) ?? '-'}); run sync again to read the rest`, { value: describeRanges(coverage) })
      }
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed')
      if ((counts.failed ?? 0) > 0) {
        const [job] = await queue.getFailed(0, 0)
        if (job) return job
      }
      const coverage = await readCoverage(redis, keys)
      const done = gaps.reduce((n, g) => n + (g.to - g.from + 1) - subtractRanges(g, coverage).reduce((m, r) => m + r.to - r.from + 1, 0), 0)
      options.onProgress?.({ done, total })
      const busy = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0)
      // After "waiting for ingest workers": the first sign of one at work, however quick it was.
      if (told && !announced && ((counts.active ?? 0) > 0 || done > 0 || busy === 0)) {
        const n = await queue.getWorkersCount().catch(() => -1)
        note(`${n > 0 ? `${n} ingest worker${n === 1 ? '' : 's'}` : 'an ingest worker'} serving; reading blocks ${describeRanges(gaps)}`)
        announced = true
      }
      if (busy === 0) return null
      const now = Date.now()
      const signature = `${done}/${counts.active ?? 0}/${counts.waiting ?? 0}`
      if (signature !== lastSignature) {
        lastSignature = signature
        lastChange = now
      }
      if (workerCount === 0 && now - lastWorkerCheck >= 1_000) {
        lastWorkerCheck = now
        const n = await queue.getWorkersCount().catch(() => -1)
        if (n === 0 && !told && now - started >= WORKER_NOTICE_MS && (counts.active ?? 0) === 0) {
          note(`waiting for ingest workers: none serves the ingest queue of store ${prefix} (${busy} ranges queued); start one with 'exposure worker --queues ingest --prefix ${prefix}' and RPC_URL set to a node of chain ${caps.chainId}, or sync without --workers 0`)
          told = true
        }
        if (n > 0 && told && !announced) {
          note(`${n} ingest worker${n === 1 ? '' : 's'} serving; reading blocks ${describeRanges(gaps)}`)
          announced = true
        }
        if (n >= 0) serving = n
      }
      // Jobs being retried, or nothing moving: is the node still there? (The client's own retry budget bounds this.)
      if (((counts.delayed ?? 0) > 0 || now - lastChange >= STALL_PROBE_MS) && now - lastProbe >= PROBE_EVERY_MS && (workerCount > 0 || serving !== 0)) {
        lastProbe = now
        try {
          await client.call('eth_blockNumber')
        } catch (error) {
          if (!isRetryable(error)) throw error
          const coverageNow = await readCoverage(redis, keys)
          throw new BaseError('RPC_UNAVAILABLE', `lost the Ethereum node at ${client.url} while reading blocks ${span.from}-${span.to}: ${isExposureError(error) ? error.shortMessage : String(error)}; blocks ${describeRanges(coverageNow)} are in the store: run sync again when the node answers`, { value: client.url }, { cause: error })
        }
      }
      await sleep(100, signal)
    }
  }

  /** Removes the queued ranges and waits until the running ones are done (they finish their commit). */
  async function withdrawJobs(): Promise<void> {
    await queue.drain(true)
    for (;;) {
      const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized')
      if ((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0) > 0) await queue.drain(true)
      else if ((counts.active ?? 0) === 0) return
      await sleep(100)
    }
  }

  /** Rolls back what this sync read from `block` on (after a node was caught answering inconsistently). */
  async function rollBackOwn(block: number): Promise<void> {
    for (const r of state.read) {
      if (r.to < block) continue
      await rollBack(forkCtx, Math.max(r.from, block), r.to)
    }
  }

  async function nodeAnswers(): Promise<boolean> {
    try {
      await client.call('eth_blockNumber')
      return true
    } catch (error) {
      if (isRetryable(error)) return false
      throw error
    }
  }

  /** The follow loop: forks, final blocks, tentative blocks, every `pollMs`; backs off while the node is away. */
  async function followHead(): Promise<void> {
    const initialBackoff = options.backoff?.initialMs ?? 1_000
    const maxBackoff = options.backoff?.maxMs ?? 30_000
    let backoffMs = initialBackoff
    let downSince: number | null = null
    for (;;) {
      if (signal?.aborted) return
      try {
        await rolledBack(await resolveForks(forkCtx))
        line = await finalityLine(client, caps, options.confirmations)
        await syncFinal(fromBlock!, line.final)
        await promoteTentative(line.final)
        const coverage = await readCoverage(redis, keys)
        const tentative = await tentativeBlocks(forkCtx)
        const top = Math.max(coverage[coverage.length - 1]?.to ?? -1, tentative[tentative.length - 1] ?? -1, fromBlock! - 1)
        const next = Math.max(line.final, top) + 1
        for (const r of splitRange(next, line.head, options.rangeSize)) {
          await ingestRange(ctx, r.from, r.to, false)
          emit({ type: 'tentative', from: r.from, to: r.to })
        }
        const after = await tentativeBlocks(forkCtx)
        state.tentativeThrough = after[after.length - 1] ?? null
        if (downSince !== null) {
          emit({ type: 'node-up', downMs: Date.now() - downSince })
          downSince = null
          backoffMs = initialBackoff
        }
      } catch (error) {
        if (error === STOPPED) return
        if (isRetryable(error)) {
          downSince ??= Date.now()
          emit({ type: 'node-down', error: isExposureError(error) ? error.shortMessage : String(error), retryInMs: backoffMs })
          await sleep(backoffMs, signal)
          backoffMs = Math.min(maxBackoff, backoffMs * 2)
          continue
        }
        // A tentative range that does not link up: a fork found on this step (else the node is inconsistent).
        if (isExposureError(error, 'RPC_ERROR') && error.shortMessage.includes(LINK_BROKEN)) {
          if (await rolledBack(await resolveForks(forkCtx))) continue
        }
        throw error
      }
      await sleep(options.pollMs ?? 1_000, signal)
    }
  }

  /** Tentative blocks now covered as final: no longer tentative (their final read matched their hashes, ingest.ts). */
  async function promoteTentative(final: number): Promise<void> {
    const tentative = await tentativeBlocks(forkCtx)
    const coverage = await readCoverage(redis, keys)
    const promoted = tentative.filter((n) => n <= final && coverage.some((r) => r.from <= n && n <= r.to))
    if (promoted.length === 0) return
    const pipeline = redis.pipeline()
    for (const n of promoted) pipeline.hdel(keys.tentative, String(n)).del(keys.tentativeAddresses(n))
    await pipeline.exec()
  }
}

/** The node's head and the finality line: `finalized` tag unless confirmations are given, else head − confirmations (64 by default). */
export async function finalityLine(client: RpcClient, caps: RpcCapabilities, confirmations: number | undefined): Promise<{ head: number; final: number; how: string }> {
  const head = Number(BigInt(await client.call<string>('eth_blockNumber')))
  if (confirmations === undefined && caps.finalized !== null) {
    const block = await client.call<{ number: string } | null>('eth_getBlockByNumber', ['finalized', false])
    const final = block === null ? -1 : Number(BigInt(block.number))
    return { head, final, how: `the node's finalized block (head ${head})` }
  }
  const depth = confirmations ?? 64
  return { head, final: head - depth, how: `head ${head} − ${depth} confirmations` }
}

/** The requests of the coordinator and of the in-process ingest workers together. */
function totalStats(all: readonly RpcStats[]): RpcStats {
  const total: RpcStats = { requests: 0, calls: 0, retries: 0, faults: {}, breakerOpened: 0 }
  for (const s of all) {
    total.requests += s.requests
    total.calls += s.calls
    total.retries += s.retries
    total.breakerOpened += s.breakerOpened
    for (const [kind, n] of Object.entries(s.faults)) total.faults[kind] = (total.faults[kind] ?? 0) + n
  }
  return total
}

/** Resolves after `ms`, or at once when `signal` aborts; leaves no listener behind either way. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}
