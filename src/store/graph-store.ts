import type { Redis } from 'ioredis'
import { BaseError } from '../errors.ts'
import type { Address, Asset, Seed, ServiceLabel, Transfer } from '../types.ts'
import { storeKeys, type StoreKeys } from './keys.ts'
import { IN_SIZE, OUT_SIZE, decodeRecord, joinNode, sortUnique, splitNode, writeInRecord, writeOutRecord } from './records.ts'
import { callScript, defineScripts } from './scripts.ts'

/** How many addresses one commit round trip merges. */
const COMMIT_CHUNK = 1_000
/** Staging partitions per import (by the address's first byte). */
const PARTITIONS = 256
const ENTRY_OUT = 0
const ENTRY_IN = 1
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

/** Progress of a commit, in staging partitions. */
export interface CommitProgress {
  addressesDone: number
  addressesTotal: number
}

export interface CommitResult {
  /** Distinct addresses whose lists were merged. */
  addresses: number
  /** Transfers (out-records) in the store before and after. */
  transfersBefore: number
  transfersAfter: number
}

export interface StoreStats {
  transfers: number
  addresses: number
  seeds: number
  labels: number
  lastImport: string | null
}

/**
 * The graph store: transfers indexed by address and direction, seeds, labels. Imports write into
 * a staging area first and merge at commit, so a failed import writes nothing to the store.
 */
export function createGraphStore(redis: Redis, prefix: string) {
  defineScripts(redis)
  const keys: StoreKeys = storeKeys(prefix)

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

  /**
   * Appends transfers to import `importId`'s staging area: PARTITIONS strings, an address's
   * records in the partition of its first byte. Each entry is the owner's address and one record
   * (out or in). One script call per batch, however many addresses it touches; and the keyspace
   * never holds a staging key per address (those would inflate Redis' main dictionary for good).
   */
  async function stage(importId: string, transfers: readonly Transfer[], assetIds: ReadonlyMap<Asset, number>): Promise<void> {
    if (transfers.length === 0) return
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
    for (const t of transfers) {
      const assetId = assetIds.get(t.asset)
      if (assetId === undefined) throw new BaseError('INTERNAL', `asset ${t.asset} was not interned before staging`)
      const fields = { counterparty: t.to, blockNumber: t.blockNumber, transactionIndex: t.transactionIndex, assetId, amount: t.amount, txHash: t.txHash, kind: t.kind, subIndex: t.subIndex }
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
    const keyList: string[] = []
    const blobs: Buffer[] = []
    for (let p = 0; p < PARTITIONS; p++) {
      if (sizes[p] === 0) continue
      keyList.push(keys.stagePartition(importId, p))
      blobs.push(buffer.subarray(starts[p]!, starts[p]! + sizes[p]!))
    }
    await callScript(redis, 'append-many', keyList, blobs)
  }

  /**
   * Merges import `importId`'s staging area into the store, one partition at a time (memory is
   * bounded by the import's size / PARTITIONS): for every address in it, the existing and staged
   * records are sorted, de-duplicated (re-imports change nothing) and written back with a fresh
   * counterparty count. Holds the import lock so two commits never interleave.
   */
  async function commit(importId: string, onProgress?: (p: CommitProgress) => void): Promise<CommitResult> {
    const lockValue = importId
    const locked = await redis.set(keys.importLock, lockValue, 'PX', 600_000, 'NX')
    if (locked !== 'OK') throw new BaseError('WALK_BUSY', 'another import is committing into this store; try again when it is done', { field: 'lock', value: keys.importLock })
    try {
      const transfersBefore = Number((await redis.hget(keys.meta, 'transfers')) ?? 0)
      let addresses = 0
      let done = 0
      // Two partitions in flight: one merging in JS while Redis reads or writes the other.
      let previous: Promise<void> = Promise.resolve()
      for (let p = 0; p < PARTITIONS; p++) {
        const merging = mergePartition(importId, p)
        await previous
        previous = merging.then((count) => {
          addresses += count
          onProgress?.({ addressesDone: ++done, addressesTotal: PARTITIONS })
        })
      }
      await previous
      await redis.hset(keys.meta, 'lastImport', new Date().toISOString())
      const transfersAfter = Number((await redis.hget(keys.meta, 'transfers')) ?? 0)
      return { addresses, transfersBefore, transfersAfter }
    } finally {
      // Release only our own lock.
      if ((await redis.get(keys.importLock)) === lockValue) await redis.del(keys.importLock)
    }
  }

  /** Merges one staged partition; returns how many addresses it touched. */
  async function mergePartition(importId: string, partition: number): Promise<number> {
    const stagedKey = keys.stagePartition(importId, partition)
    const staged = await redis.getBuffer(stagedKey)
    if (staged === null) return 0
    // Grouped by the owner's 20 bytes as a latin1 string (cheaper than hex for every entry).
    const byOwner = new Map<string, { outs: Buffer[]; ins: Buffer[] }>()
    for (let at = 0; at < staged.length; ) {
      const isOut = staged[at] === ENTRY_OUT
      const size = isOut ? OUT_SIZE : IN_SIZE
      const owner = staged.toString('latin1', at + 1, at + 21)
      let lists = byOwner.get(owner)
      if (!lists) byOwner.set(owner, (lists = { outs: [], ins: [] }))
      ;(isOut ? lists.outs : lists.ins).push(staged.subarray(at + 21, at + 21 + size))
      at += 21 + size
    }
    const owners = [...byOwner.keys()]
    for (let start = 0; start < owners.length; start += COMMIT_CHUNK) {
      const chunk = owners.slice(start, start + COMMIT_CHUNK)
      const addresses = chunk.map((owner) => `0x${Buffer.from(owner, 'latin1').toString('hex')}` as Address)
      const nodes = await redis.mgetBuffer(...addresses.map((a) => keys.node(a)))
      const writes: (string | Buffer)[] = []
      let transferDelta = 0
      let addressDelta = 0
      addresses.forEach((a, index) => {
        const old = nodes[index] ?? null
        const before = splitNode(old)
        const lists = byOwner.get(chunk[index]!)!
        const out = sortUnique(Buffer.concat([before.out, ...lists.outs]), OUT_SIZE)
        const inn = sortUnique(Buffer.concat([before.in, ...lists.ins]), IN_SIZE)
        const node = joinNode(a, out, inn)
        if (node !== null) writes.push(keys.node(a), node)
        transferDelta += (out.length - before.out.length) / OUT_SIZE
        if (old === null && node !== null) addressDelta++
      })
      // One MSET per chunk: the store's keys share one hash tag, so multi-key commands stay
      // legal on a Redis Cluster too.
      const write = redis.multi()
      if (writes.length > 0) write.mset(...writes)
      write.hincrby(keys.meta, 'transfers', transferDelta)
      write.hincrby(keys.meta, 'addresses', addressDelta)
      await execOrThrow(write)
    }
    // Only now: a crash before this point leaves the partition staged, and re-running the commit
    // (or the import) merges it again without counting anything twice.
    await redis.del(stagedKey)
    return owners.length
  }

  /** Drops an import's staging area (after a failed import: nothing reaches the store). */
  async function abort(importId: string): Promise<void> {
    await redis.del(...Array.from({ length: PARTITIONS }, (_, p) => keys.stagePartition(importId, p)))
  }

  /**
   * Every transfer in the store, read from the senders' out-records (each transfer once), in no
   * particular order. Streams: one SCAN batch of node keys at a time.
   */
  async function* transfers(): AsyncGenerator<Transfer> {
    const assets = await loadAssets()
    let cursor = '0'
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.prefix}:n:*`, 'COUNT', 1000)
      cursor = next
      if (found.length === 0) continue
      const nodes = await redis.mgetBuffer(...found)
      for (let k = 0; k < found.length; k++) {
        const from = `0x${found[k]!.slice(found[k]!.lastIndexOf(':') + 1)}` as Address
        const { out } = splitNode(nodes[k])
        for (let o = 0; o < out.length; o += OUT_SIZE) {
          const r = decodeRecord(out, o, OUT_SIZE)
          yield { from, to: r.counterparty, amount: r.amount, asset: assets[r.assetId] ?? 'ETH', blockNumber: r.blockNumber, transactionIndex: r.transactionIndex, txHash: r.txHash!, kind: r.kind!, subIndex: r.subIndex! }
        }
      }
    } while (cursor !== '0')
  }

  async function putBlockTimes(times: ReadonlyMap<number, number>): Promise<void> {
    const entries = [...times].flatMap(([block, ts]) => [String(block), String(ts)])
    for (let i = 0; i < entries.length; i += 20_000) await redis.hset(keys.blockTimes, ...entries.slice(i, i + 20_000))
  }

  async function putSeeds(seeds: readonly Seed[]): Promise<void> {
    if (seeds.length === 0) return
    await redis.hset(keys.seeds, Object.fromEntries(seeds.map((s) => [s.address, JSON.stringify(s)])))
  }

  async function listSeeds(): Promise<Seed[]> {
    const all = await redis.hgetall(keys.seeds)
    return Object.values(all).map((json) => JSON.parse(json) as Seed).sort((a, b) => a.address.localeCompare(b.address))
  }

  async function putLabels(labels: readonly ServiceLabel[]): Promise<void> {
    if (labels.length === 0) return
    await redis.hset(keys.labels, Object.fromEntries(labels.map((l) => [l.address, JSON.stringify(l)])))
  }

  async function stats(): Promise<StoreStats> {
    const [meta, seeds, labels] = await Promise.all([redis.hgetall(keys.meta), redis.hlen(keys.seeds), redis.hlen(keys.labels)])
    return {
      transfers: Number(meta.transfers ?? 0),
      addresses: Number(meta.addresses ?? 0),
      seeds,
      labels,
      lastImport: meta.lastImport ?? null,
    }
  }

  return { redis, keys, loadAssets, internAssets, stage, commit, abort, transfers, putBlockTimes, putSeeds, listSeeds, putLabels, stats }
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
