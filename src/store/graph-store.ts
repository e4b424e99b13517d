import type { Redis } from 'ioredis'
import { isCluster, mgetBuffers, scanKeyBatches } from './redis.ts'
import { BaseError, InputError } from '../errors.ts'
import type { Address, Asset, Seed, ServiceLabel, Transfer, TransferKind } from '../types.ts'
import { createImports, execChecked, ENTRY_IN, ENTRY_OUT, EXTRA_AMOUNT, EXTRA_BLOCK_TIME, EXTRA_TOKEN, EXTRA_TX, PARTITIONS, type CommitOptions, type CommitProgress, type CommitResult, type ImportKind } from './commit.ts'
import { createHolder, defaultActor, type Holder } from './holder.ts'
import { writeBlockTimes } from './block-times.ts'
import { STORE_FORMAT, storeKeys, type StoreKeys } from './keys.ts'
import { partitionOfBlock } from './partitions.ts'
import { DEFAULT_BULK_LIMIT, storeError } from './memory.ts'
import { IN_SIZE, MAX_AMOUNT, OUT_SIZE, decodeRecord, splitNode, writeInRecord, writeOutRecord } from './records.ts'
import { callScript, defineScripts } from './scripts.ts'
import { encodePendingToken, txEntry, type PendingToken } from './tx-index.ts'

export type { CommitOptions, CommitProgress, CommitResult } from './commit.ts'

/** A staging entry: kind byte, owner address, record. */
const OUT_ENTRY = 1 + 20 + OUT_SIZE
const IN_ENTRY = 1 + 20 + IN_SIZE

function partitionOf(address: Address): number {
  return (hexDigit(address.charCodeAt(2)) << 4) | hexDigit(address.charCodeAt(3))
}

/** '0'-'9', 'a'-'f' (addresses are lowercase inside the library). */
function hexDigit(code: number): number {
  return code <= 57 ? code - 48 : code - 87
}

export interface StoreStats {
  transfers: number
  addresses: number
  seeds: number
  labels: number
  lastImport: string | null
  /** +1 per commit that changed the graph. */
  version: number
  labelsVersion: number
  storeId: string | null
}

/** A record to stage, with its asset already an id of the store's asset table. */
interface StagedTransfer {
  from: Address
  to: Address
  amount: bigint
  assetId: number
  blockNumber: number
  transactionIndex: number
  txHash: `0x${string}`
  kind: TransferKind
  subIndex: number
}

/** The exact-amount side table's field for a transfer whose amount a record cannot hold. */
export function amountKey(txHash: string, kind: TransferKind, subIndex: number, from: string, to: string): string {
  const kindSub = ({ tx: 0, trace: 1, log: 2 } as const)[kind] * 0x400000 + subIndex
  return `${txHash.slice(2)}${kindSub.toString(16).padStart(6, '0')}${from.slice(2)}${to.slice(2)}`
}

export interface GraphStoreOptions {
  /** What this process is doing, for lock and import holders' messages. Default: the command line. */
  actor?: string
}

/** Bytes of staging per APPEND argument, at most. */
const MAX_PIECE = 32 * 1024 * 1024

/**
 * The graph store: transfers indexed by address and direction, seeds, labels. Imports write into
 * a staging area first and are committed exactly once through a journal (commit.ts).
 */
export function createGraphStore(redis: Redis, prefix: string, storeOptions: GraphStoreOptions = {}) {
  defineScripts(redis)
  const keys: StoreKeys = storeKeys(prefix)
  let holderPromise: Promise<Holder> | null = null
  const holder = () => (holderPromise ??= createHolder(redis, storeOptions.actor ?? defaultActor()))
  const imports = createImports(redis, keys, holder, stageResolved)

  async function loadAssets(): Promise<Asset[]> {
    const table = await redis.lrange(keys.assets, 0, -1)
    return table.length === 0 ? ['ETH'] : (table as Asset[])
  }

  async function internAssets(assets: readonly Asset[]): Promise<Map<Asset, number>> {
    let table: Asset[]
    try {
      table = (await callScript(redis, 'intern-assets', [keys.assets], assets)) as Asset[]
    } catch (error) {
      throw new BaseError('INVALID_CONFIG', `cannot add assets to the store: ${(error as Error).message}`, {}, { cause: error })
    }
    return new Map(table.map((asset, id) => [asset, id]))
  }

  /** Registers an import (kind and a one-line description for status and recovery); stage() does it with defaults. */
  async function beginImport(importId: string, kind: ImportKind, detail: string): Promise<void> {
    await imports.register(importId, kind, detail)
  }

  /**
   * Appends transfers to import `importId`'s staging area: PARTITIONS strings, an address's
   * records in the partition of its first byte. Each entry is the owner's address and one record
   * (out or in). One script call per batch, however many addresses it touches; and the keyspace
   * never holds a staging key per address (those would inflate Redis' main dictionary for good).
   */
  async function stage(importId: string, transfers: readonly Transfer[], assetIds: ReadonlyMap<Asset, number>): Promise<void> {
    const items: StagedTransfer[] = new Array(transfers.length)
    for (let i = 0; i < transfers.length; i++) {
      const t = transfers[i]!
      const assetId = assetIds.get(t.asset)
      if (assetId === undefined) throw new BaseError('INTERNAL', `asset ${t.asset} was not interned before staging`)
      items[i] = { from: t.from, to: t.to, amount: t.amount, assetId, blockNumber: t.blockNumber, transactionIndex: t.transactionIndex, txHash: t.txHash, kind: t.kind, subIndex: t.subIndex }
    }
    await stageRecords(importId, items)
  }

  async function stageRecords(importId: string, transfers: readonly StagedTransfer[]): Promise<void> {
    if (transfers.length === 0) return
    await imports.register(importId, kindOf(importId), importId)
    // Two passes: size every partition, then write all entries into one buffer at their offsets
    // (no per-record allocation: imports are bounded by garbage collection otherwise).
    const sizes = new Array<number>(PARTITIONS).fill(0)
    for (const t of transfers) {
      sizes[partitionOf(t.from)]! += OUT_ENTRY
      sizes[partitionOf(t.to)]! += IN_ENTRY
    }
    const starts = new Array<number>(PARTITIONS)
    const next = new Array<number>(PARTITIONS)
    let total = 0
    for (let p = 0; p < PARTITIONS; p++) {
      starts[p] = total
      next[p] = total
      total += sizes[p]!
    }
    const buffer = Buffer.allocUnsafe(total)
    const big: Buffer[] = []
    for (const t of transfers) {
      const fields = { counterparty: t.to, blockNumber: t.blockNumber, transactionIndex: t.transactionIndex, assetId: t.assetId, amount: t.amount, txHash: t.txHash, kind: t.kind, subIndex: t.subIndex }
      // Records hold 96 bits of amount; a larger one (only ever a token's) keeps its exact value in P:amounts.
      if (t.amount >= MAX_AMOUNT) big.push(extraEntry(EXTRA_AMOUNT, Buffer.from(`${amountKey(t.txHash, t.kind, t.subIndex, t.from, t.to)}=${t.amount.toString()}`, 'utf8')))
      const pf = partitionOf(t.from)
      let at = next[pf]!
      buffer[at] = ENTRY_OUT
      buffer.write(t.from.slice(2), at + 1, 20, 'hex')
      writeOutRecord(buffer, at + 21, fields)
      next[pf] = at + OUT_ENTRY
      fields.counterparty = t.from
      const pt = partitionOf(t.to)
      at = next[pt]!
      buffer[at] = ENTRY_IN
      buffer.write(t.to.slice(2), at + 1, 20, 'hex')
      writeInRecord(buffer, at + 21, fields)
      next[pt] = at + IN_ENTRY
    }
    const writes: { guard: string; key: string; blob: Buffer }[] = []
    for (let p = 0; p < PARTITIONS; p++) {
      if (sizes[p] === 0) continue
      writes.push({ guard: keys.importLive(importId, p), key: keys.stagePartition(importId, p), blob: buffer.subarray(starts[p]!, starts[p]! + sizes[p]!) })
    }
    if (big.length > 0) writes.push({ guard: keys.importRecord(importId), key: keys.stageExtra(importId), blob: Buffer.concat(big) })
    await appendStaged(importId, writes)
  }

  /**
   * Appends staged bytes to an import's staging keys, unless the import was dropped meanwhile
   * (append-many.lua). One server: one call for the whole batch, guarded by the import's record.
   * A cluster: one call per staging key, guarded by a key of its slot (the record for the
   * prefix's, the partition's live marker for a partition's: commit.ts register), concurrently.
   */
  async function appendStaged(importId: string, whole: readonly { guard: string; key: string; blob: Buffer }[]): Promise<void> {
    try {
      // No argument larger than Redis takes in one bulk (proto-max-bulk-len): a blob goes in
      // consecutive pieces, appended in order, which is the same staging string.
      const piece = Math.min(MAX_PIECE, Math.floor((await imports.currentBulkLimit().catch(() => DEFAULT_BULK_LIMIT)) / 2))
      const writes = whole.flatMap((w) => Array.from({ length: Math.max(1, Math.ceil(w.blob.length / piece)) }, (_, i) => ({ ...w, blob: w.blob.subarray(i * piece, (i + 1) * piece) })))
      if (!isCluster(redis)) {
        await callScript(redis, 'append-many', [keys.importRecord(importId), ...writes.map((w) => w.key)], writes.map((w) => w.blob))
      } else {
        // Pieces of one key one after the other; keys at once.
        const byKey = new Map<string, typeof writes>()
        for (const w of writes) {
          const pieces = byKey.get(w.key)
          if (pieces) pieces.push(w)
          else byKey.set(w.key, [w])
        }
        await Promise.all(
          [...byKey.values()].map(async (pieces) => {
            for (const w of pieces) await callScript(redis, 'append-many', [w.guard, w.key], [w.blob])
          }),
        )
      }
    } catch (error) {
      if (/IMPORT_GONE/.test((error as Error).message)) throw new BaseError('IMPORT_GONE', `import ${importId} was dropped while it was being staged (its command failed or was interrupted): nothing more is staged for it`, { value: importId }, { cause: error })
      throw storeError(error, `staging of import ${importId}`)
    }
  }

  /** Token transfers a commit resolved (their transaction index is known now): staged as transfers. */
  async function stageResolved(importId: string, tokens: readonly (PendingToken & { blockNumber: number; transactionIndex: number })[]): Promise<void> {
    await stageRecords(importId, tokens.map((t) => ({ from: t.from, to: t.to, amount: t.amount, assetId: t.assetId, blockNumber: t.blockNumber, transactionIndex: t.transactionIndex, txHash: t.txHash, kind: 'log' as const, subIndex: t.logIndex })))
  }

  /**
   * Stages what token transfers need to join in any order (tx-index.ts): every transaction's
   * (block, hash, index), token transfers whose transaction is not known yet, and block times.
   */
  async function stageJoin(importId: string, join: { transactions?: readonly { block: number; hash: string; index: number }[]; tokens?: readonly (Omit<PendingToken, 'assetId'> & { asset: Asset; blockNumber: number })[]; blockTimes?: ReadonlyMap<number, number> }, assetIds?: ReadonlyMap<Asset, number>): Promise<void> {
    // Each entry goes to the staging key of its block's partition (keys.ts B:stage:<id>:b): the
    // commit joins partition by partition, and no one key has to hold a whole import's blocks.
    const parts = new Map<number, Buffer[]>()
    const add = (block: number, entry: Buffer) => {
      const p = partitionOfBlock(block)
      const list = parts.get(p)
      if (list) list.push(entry)
      else parts.set(p, [entry])
    }
    for (const tx of join.transactions ?? []) {
      const payload = Buffer.allocUnsafe(4 + 10)
      payload.writeUInt32BE(tx.block, 0)
      txEntry(tx.hash, tx.index).copy(payload, 4)
      add(tx.block, extraEntry(EXTRA_TX, payload))
    }
    for (const t of join.tokens ?? []) {
      const assetId = assetIds?.get(t.asset)
      if (assetId === undefined) throw new BaseError('INTERNAL', `asset ${t.asset} was not interned before staging`)
      const payload = Buffer.allocUnsafe(4 + 109)
      payload.writeUInt32BE(t.blockNumber, 0)
      encodePendingToken({ ...t, assetId }, payload, 4)
      add(t.blockNumber, extraEntry(EXTRA_TOKEN, payload))
    }
    for (const [block, ts] of join.blockTimes ?? []) {
      const payload = Buffer.allocUnsafe(12)
      payload.writeUInt32BE(block, 0)
      payload.writeBigUInt64BE(BigInt(ts), 4)
      add(block, extraEntry(EXTRA_BLOCK_TIME, payload))
    }
    if (parts.size === 0) return
    await imports.register(importId, kindOf(importId), importId)
    await appendStaged(importId, [...parts].map(([p, list]) => ({ guard: keys.importLive(importId, p), key: keys.stageBlocks(importId, p), blob: Buffer.concat(list) })))
  }

  /**
   * Commits import `importId` exactly once (commit.ts). `options` may be a progress callback
   * (older callers).
   */
  async function commit(importId: string, options: CommitOptions | ((p: CommitProgress) => void) = {}): Promise<CommitResult> {
    await imports.register(importId, kindOf(importId), importId)
    const opts = typeof options === 'function' ? { onProgress: options } : options
    try {
      return await imports.commit(importId, opts)
    } catch (error) {
      throw storeError(error, `commit of import ${importId}`)
    }
  }

  /** Drops an import's staging area (after a failed import: nothing reaches the store). */
  async function abort(importId: string): Promise<void> {
    await imports.drop(importId)
  }

  /**
   * Every transfer in the store, read from the senders' out-records (each transfer once), in no
   * particular order. Streams: one SCAN batch of node keys at a time.
   */
  async function* transfers(): AsyncGenerator<Transfer> {
    const assets = await loadAssets()
    for await (const found of scanKeyBatches(redis, keys.nodePattern)) {
      const nodes = await mgetBuffers(redis, found)
      for (let k = 0; k < found.length; k++) {
        const from = `0x${found[k]!.slice(found[k]!.lastIndexOf(':') + 1)}` as Address
        const { out } = splitNode(nodes[k])
        for (let o = 0; o < out.length; o += OUT_SIZE) {
          const r = decodeRecord(out, o, OUT_SIZE)
          const transfer: Transfer = { from, to: r.counterparty, amount: r.amount, asset: assets[r.assetId] ?? 'ETH', blockNumber: r.blockNumber, transactionIndex: r.transactionIndex, txHash: r.txHash!, kind: r.kind!, subIndex: r.subIndex! }
          if (r.amount === MAX_AMOUNT) transfer.amount = await exactAmount(transfer)
          yield transfer
        }
      }
    }
  }

  /** The exact amount of a transfer whose record holds the 96-bit maximum (P:amounts keeps larger ones). */
  async function exactAmount(t: Pick<Transfer, 'txHash' | 'kind' | 'subIndex' | 'from' | 'to' | 'amount'>): Promise<bigint> {
    const exact = await redis.hget(keys.amounts, amountKey(t.txHash, t.kind, t.subIndex, t.from, t.to))
    return exact === null ? t.amount : BigInt(exact)
  }

  async function putBlockTimes(times: ReadonlyMap<number, number>): Promise<void> {
    await writeBlockTimes(redis, keys, times)
  }

  async function putSeeds(seeds: readonly Seed[]): Promise<void> {
    if (seeds.length === 0) return
    await redis.hset(keys.seeds, Object.fromEntries(seeds.map((s) => [s.address, JSON.stringify(s)])))
  }

  async function listSeeds(): Promise<Seed[]> {
    const all = await redis.hgetall(keys.seeds)
    return Object.values(all).map((json) => JSON.parse(json) as Seed).sort((a, b) => a.address.localeCompare(b.address))
  }

  /** Writes labels (new or changed ones) and bumps the labels' version, which answers compare with their walk's. */
  async function putLabels(labels: readonly ServiceLabel[]): Promise<void> {
    if (labels.length === 0) return
    const write = redis.multi()
    for (let i = 0; i < labels.length; i += 10_000) write.hset(keys.labels, Object.fromEntries(labels.slice(i, i + 10_000).map((l) => [l.address, JSON.stringify(l)])))
    write.hincrby(keys.meta, 'labelsVersion', 1)
    try {
      await execChecked(write)
    } catch (error) {
      throw storeError(error, 'label import')
    }
  }

  async function stats(): Promise<StoreStats> {
    const [meta, seeds, labels] = await Promise.all([redis.hgetall(keys.meta), redis.hlen(keys.seeds), redis.hlen(keys.labels)])
    return {
      transfers: Number(meta.transfers ?? 0),
      addresses: Number(meta.addresses ?? 0),
      seeds,
      labels,
      lastImport: meta.lastImport ?? null,
      version: Number(meta.version ?? 0),
      labelsVersion: Number(meta.labelsVersion ?? 0),
      storeId: meta.storeId ?? null,
    }
  }

  /**
   * Refuses a store of another format (keys.ts STORE_FORMAT). Older stores keep their nodes and
   * labels under other key names than this version reads (format 3 partitioned them), so reading
   * one would find nothing and answer "not exposed": refused for reading too. An empty store
   * takes the current format.
   */
  async function assertFormat(): Promise<void> {
    const [format, transfers] = await redis.hmget(keys.meta, 'format', 'transfers')
    const found = Number(format ?? 1)
    if (Number(transfers ?? 0) > 0 && found !== STORE_FORMAT) {
      const why = found < STORE_FORMAT
        ? `store format ${format ?? 1}, this version reads and writes ${STORE_FORMAT}: ${found === 3 ? 'per-block state (tx index, waiting token transfers, block times) is now partitioned too' : 'per-address keys are now partitioned over 256 hash tags'}`
        : `store format ${format}, this version reads and writes ${STORE_FORMAT}`
      throw new InputError('INVALID_CONFIG', `store ${keys.prefix} was written by ${found < STORE_FORMAT ? 'an earlier' : 'another'} version of exposure-tracer (${why}); it can be neither read nor written: ${found === 3 ? "'exposure migrate' brings it to this version in place" : 're-import into a new store (--prefix) and walk there'}`, { field: 'prefix', value: keys.prefix })
    }
  }

  return { redis, keys, holder, imports, assertFormat, loadAssets, internAssets, beginImport, stage, stageJoin, commit, abort, transfers, exactAmount, putBlockTimes, putSeeds, listSeeds, putLabels, stats }
}

function extraEntry(type: number, payload: Buffer): Buffer {
  const entry = Buffer.allocUnsafe(3 + payload.length)
  entry[0] = type
  entry.writeUInt16BE(payload.length, 1)
  payload.copy(entry, 3)
  return entry
}

/** Import ids start with their kind where callers did not register one (rpc…, lazy…, rollback…). */
function kindOf(importId: string): ImportKind {
  if (importId.startsWith('rpc')) return 'rpc'
  if (importId.startsWith('lazy')) return 'lazy'
  if (importId.startsWith('rollback')) return 'rollback'
  return 'etl'
}



export type GraphStore = ReturnType<typeof createGraphStore>

/** Runs a pipeline and throws the first command error (ioredis reports them per command). */
export async function execOrThrow(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? []
  return results.map(([error, value]) => {
    if (error) throw error
    return value
  })
}
