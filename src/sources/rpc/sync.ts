/**
 * `exposure sync`: block sync from a JSON-RPC node into the graph store.
 *
 * Final ranges (at or below the node's `finalized` block, or head − confirmations) go through the
 * BullMQ ingest queue as deterministic jobs (`rpc-<from>-<to>`), run by in-process workers and/or
 * `exposure worker` processes. With `follow`, the coordinator also writes the blocks above the
 * finality line as *tentative* (in-process: there is one head to follow), remembers their hashes
 * and addresses, and on every poll compares those hashes with the node's: a changed hash is a
 * reorg, and its blocks are rolled back out of the store and read again.
 */
import { BaseError, InputError } from '../../errors.ts'
import type { GraphStore } from '../../store/graph-store.ts'
import { rollbackBlocks } from '../../store/rollback.ts'
import { addIngestJobs, createIngestQueue, splitRange } from '../../queues/ingest-queue.ts'
import type { Address } from '../../types.ts'
import { startIngestWorker } from '../../../workers/ingest.ts'
import { createRpcClient, toHex, type RpcClient, type RpcClientOptions, type RpcStats } from './client.ts'
import { detectCapabilities, type RpcCapabilities } from './capabilities.ts'
import { ingestRange, readCursor, syncKeys, type IngestContext } from './ingest.ts'

export interface SyncOptions {
  redisUrl: string
  rpcUrl: string
  listedTokens: readonly Address[]
  fromBlock: number
  /** Last block to sync; default: the finality line. Blocks above it are not written (unless following). */
  toBlock?: number
  follow?: boolean
  /** Head − confirmations is final. When undefined, the node's `finalized` tag is used if it has one, else head − 64. */
  confirmations?: number
  rangeSize: number
  /** In-process ingest workers (0: rely on `exposure worker`). Default 2. */
  workers?: number
  concurrency?: number
  rpc?: Omit<RpcClientOptions, 'url'>
  /** Follow: poll interval (ms). Default 1 000. */
  pollMs?: number
  /** Follow: stop when aborted. */
  signal?: AbortSignal
  onProgress?: (p: SyncProgress) => void
  onEvent?: (e: SyncEvent) => void
}

export interface SyncProgress {
  done: number
  total: number
}

export type SyncEvent =
  | { type: 'final'; from: number; to: number }
  | { type: 'tentative'; from: number; to: number }
  | { type: 'reorg'; from: number; to: number; transfersRemoved: number }

export interface SyncSummary {
  capabilities: RpcCapabilities
  fromBlock: number
  /** Every block up to this one is written as final (the cursor). */
  finalThrough: number | null
  /** The highest block written above the finality line (follow only). */
  tentativeThrough: number | null
  jobs: number
  reorgs: number
  seconds: number
  rpc: RpcStats
}

export async function runSync(store: GraphStore, options: SyncOptions): Promise<SyncSummary> {
  const startedAt = Date.now()
  if (options.rpcUrl === '') throw new InputError('INVALID_CONFIG', 'no Ethereum node configured: pass --rpc-url or set RPC_URL', { field: 'rpcUrl' })
  const client = createRpcClient({ url: options.rpcUrl, ...options.rpc })
  const caps = await detectCapabilities(client, options.rpcUrl)
  const keys = syncKeys(store.keys.prefix)
  const redis = store.redis
  await redis.set(keys.caps, JSON.stringify(caps))
  if (!caps.traceBlock && !caps.debugCallTracer) {
    process.stderr.write(`warning: the node at ${client.url} offers neither trace_block nor debug_traceBlockByNumber: internal ETH transfers are not synced\n`)
  }
  const cursor = await readCursor(redis, keys)
  if (cursor === null || cursor < options.fromBlock - 1) await redis.set(keys.cursor, options.fromBlock - 1)

  const finalityLine = async (): Promise<{ head: number; final: number }> => {
    const head = Number(BigInt(await client.call<string>('eth_blockNumber')))
    if (options.confirmations === undefined && caps.finalized !== null) {
      const block = await client.call<{ number: string } | null>('eth_getBlockByNumber', ['finalized', false])
      return { head, final: block === null ? -1 : Number(BigInt(block.number)) }
    }
    return { head, final: head - (options.confirmations ?? 64) }
  }

  const queueConnection = redis.duplicate({ maxRetriesPerRequest: null })
  const queue = createIngestQueue(queueConnection, store.keys.queuePrefix)
  const workers = Array.from({ length: options.workers ?? 2 }, () =>
    startIngestWorker({ redisUrl: options.redisUrl, prefix: store.keys.prefix, rpcUrl: options.rpcUrl, listedTokens: options.listedTokens, concurrency: options.concurrency ?? 2, ...(options.rpc ? { rpc: options.rpc } : {}) }),
  )
  const ctx: IngestContext = { store, client, caps, listedTokens: options.listedTokens, keys }
  let jobs = 0
  let reorgs = 0
  let tentativeThrough: number | null = null

  /** Queues the final ranges [from, to] and waits until every one is written. */
  async function syncFinal(from: number, to: number): Promise<void> {
    if (to < from) return
    const ranges = splitRange(from, to, options.rangeSize).map((r) => ({ source: 'rpc' as const, ...r, listedTokens: [...options.listedTokens] }))
    await queue.clean(0, 0, 'failed')
    await addIngestJobs(queue, ranges)
    jobs += ranges.length
    for (;;) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed')
      if ((counts.failed ?? 0) > 0) {
        const [job] = await queue.getFailed(0, 0)
        throw new BaseError('RPC_ERROR', `ingest of blocks ${job?.data.from}-${job?.data.to} failed for good: ${job?.failedReason ?? 'unknown reason'}`, { value: job?.id ?? '' })
      }
      const busy = (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0)
      const written = ((await readCursor(redis, keys)) ?? from - 1) - from + 1
      options.onProgress?.({ done: Math.max(0, Math.min(written, to - from + 1)), total: to - from + 1 })
      if (busy === 0) break
      await sleep(50)
    }
    const reached = (await readCursor(redis, keys)) ?? -1
    if (reached < to) throw new BaseError('INTERNAL', `sync ended with blocks up to ${reached} written, ${to} expected`, { value: String(reached) })
    options.onEvent?.({ type: 'final', from, to })
  }

  try {
    let { head, final } = await finalityLine()
    if (options.toBlock !== undefined && options.toBlock > head) {
      throw new InputError('INVALID_ARGUMENT', `--to-block ${options.toBlock} is beyond the node's head (${head})`, { field: 'to-block', value: String(options.toBlock) })
    }
    if (options.fromBlock > head) throw new InputError('INVALID_ARGUMENT', `--from-block ${options.fromBlock} is beyond the node's head (${head})`, { field: 'from-block', value: String(options.fromBlock) })
    const start = Math.max(options.fromBlock, ((await readCursor(redis, keys)) ?? options.fromBlock - 1) + 1)
    const lastFinal = options.toBlock === undefined ? final : Math.min(options.toBlock, final)
    await syncFinal(start, lastFinal)
    if (options.follow) {
      for (;;) {
        if (options.signal?.aborted) break
        reorgs += await checkReorgs(ctx, client)
        ;({ head, final } = await finalityLine())
        const cursorNow = (await readCursor(redis, keys)) ?? options.fromBlock - 1
        if (final > cursorNow) {
          await syncFinal(cursorNow + 1, final)
          reorgs += await promoteTentative(ctx, client, final)
        }
        const top = await highestTentative(ctx)
        const next = Math.max(final, top ?? -1, cursorNow) + 1
        if (head >= next) {
          await ingestRange(ctx, next, head, false)
          options.onEvent?.({ type: 'tentative', from: next, to: head })
        }
        tentativeThrough = (await highestTentative(ctx)) ?? null
        await sleep(options.pollMs ?? 1_000, options.signal)
      }
    }
    return {
      capabilities: caps,
      fromBlock: options.fromBlock,
      finalThrough: await readCursor(redis, keys),
      tentativeThrough,
      jobs,
      reorgs,
      seconds: (Date.now() - startedAt) / 1000,
      rpc: totalStats([client.stats, ...workers.map((w) => w.client.stats)]),
    }
  } finally {
    await Promise.all(workers.map((w) => w.close()))
    await queue.close()
    queueConnection.disconnect()
  }

  async function checkReorgs(c: IngestContext, rpc: RpcClient): Promise<number> {
    const tentative = await c.store.redis.hgetall(c.keys.tentative)
    const blocks = Object.keys(tentative).map(Number).sort((a, b) => a - b)
    if (blocks.length === 0) return 0
    const current = await rpc.batch<{ hash: string } | null>(blocks.map((n) => ({ method: 'eth_getBlockByNumber', params: [toHex(n), false] })))
    const changed = blocks.find((n, i) => current[i]?.hash?.toLowerCase() !== tentative[String(n)])
    if (changed === undefined) return 0
    const removed = await rollbackTentative(c, changed, blocks[blocks.length - 1]!)
    options.onEvent?.({ type: 'reorg', from: changed, to: blocks[blocks.length - 1]!, transfersRemoved: removed })
    return 1
  }

  /** Blocks now final that were written as tentative: if the final read saw another hash, roll back and read again. */
  async function promoteTentative(c: IngestContext, rpc: RpcClient, final: number): Promise<number> {
    const tentative = await c.store.redis.hgetall(c.keys.tentative)
    const promoted = Object.keys(tentative).map(Number).filter((n) => n <= final).sort((a, b) => a - b)
    if (promoted.length === 0) return 0
    const finalHashes = await c.store.redis.hmget(c.keys.hashes, ...promoted.map(String))
    const changed = promoted.find((n, i) => finalHashes[i] !== tentative[String(n)])
    let count = 0
    if (changed !== undefined) {
      const last = promoted[promoted.length - 1]!
      const removed = await rollbackTentative(c, changed, last)
      options.onEvent?.({ type: 'reorg', from: changed, to: last, transfersRemoved: removed })
      await ingestRange(c, changed, last, true)
      count = 1
    }
    const pipeline = c.store.redis.pipeline()
    for (const n of promoted) pipeline.hdel(c.keys.tentative, String(n)).del(c.keys.tentativeAddresses(n))
    await pipeline.exec()
    void rpc
    return count
  }

  /** Removes blocks [from, to] (all written as tentative) from the store and the tentative set. */
  async function rollbackTentative(c: IngestContext, from: number, to: number): Promise<number> {
    const blocks = Array.from({ length: to - from + 1 }, (_, i) => from + i)
    const sets = await Promise.all(blocks.map((n) => c.store.redis.smembers(c.keys.tentativeAddresses(n))))
    const addresses = [...new Set(sets.flat())] as Address[]
    const result = await rollbackBlocks(c.store, from, to, addresses)
    const pipeline = c.store.redis.pipeline()
    for (const n of blocks) pipeline.hdel(c.keys.tentative, String(n)).hdel(c.keys.hashes, String(n)).del(c.keys.tentativeAddresses(n))
    await pipeline.exec()
    return result.transfers
  }
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

async function highestTentative(c: IngestContext): Promise<number | null> {
  const blocks = (await c.store.redis.hkeys(c.keys.tentative)).map(Number)
  return blocks.length === 0 ? null : Math.max(...blocks)
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })
}
