import type { Redis } from 'ioredis'
import { BaseError } from '../errors.ts'
import type { Address, Asset, Seed, ServiceLabel, Transfer } from '../types.ts'
import { storeKeys, type StoreKeys } from './keys.ts'
import { IN_SIZE, OUT_SIZE, decodeRecord, joinNode, sortUnique, splitNode, writeInRecord, writeOutRecord } from './records.ts'
import { callScript, defineScripts, pipeScript } from './scripts.ts'

/** How many staged addresses one commit round trip merges. */
const COMMIT_CHUNK = 1_000

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
   * Appends transfers to import `importId`'s staging area, grouped by address (one APPEND per
   * address and direction per call).
   */
  async function stage(importId: string, transfers: readonly Transfer[], assetIds: ReadonlyMap<Asset, number>): Promise<void> {
    if (transfers.length === 0) return
    // Two passes: count records per address, then write them all into two buffers at their
    // offsets. No per-record allocation: imports are bounded by garbage collection otherwise.
    const outCount = new Map<Address, number>()
    const inCount = new Map<Address, number>()
    for (const t of transfers) {
      outCount.set(t.from, (outCount.get(t.from) ?? 0) + 1)
      inCount.set(t.to, (inCount.get(t.to) ?? 0) + 1)
    }
    const outOffset = offsets(outCount, OUT_SIZE)
    const inOffset = offsets(inCount, IN_SIZE)
    const outs = Buffer.allocUnsafe(transfers.length * OUT_SIZE)
    const ins = Buffer.allocUnsafe(transfers.length * IN_SIZE)
    for (const t of transfers) {
      const assetId = assetIds.get(t.asset)
      if (assetId === undefined) throw new BaseError('INTERNAL', `asset ${t.asset} was not interned before staging`)
      const fields = { counterparty: t.to, blockNumber: t.blockNumber, transactionIndex: t.transactionIndex, assetId, amount: t.amount, txHash: t.txHash, kind: t.kind, subIndex: t.subIndex }
      const o = outOffset.get(t.from)!
      writeOutRecord(outs, o.next, fields)
      o.next += OUT_SIZE
      fields.counterparty = t.from
      const i = inOffset.get(t.to)!
      writeInRecord(ins, i.next, fields)
      i.next += IN_SIZE
    }
    const keyList: string[] = []
    const blobs: Buffer[] = []
    for (const [address, o] of outOffset) {
      keyList.push(keys.stage(importId, 'o', address))
      blobs.push(outs.subarray(o.start, o.next))
    }
    for (const [address, i] of inOffset) {
      keyList.push(keys.stage(importId, 'i', address))
      blobs.push(ins.subarray(i.start, i.next))
    }
    const pipeline = redis.pipeline()
    for (let k = 0; k < keyList.length; k += 5_000) pipeScript(pipeline, 'append-many', keyList.slice(k, k + 5_000), blobs.slice(k, k + 5_000))
    const touched = [...new Set<string>([...outOffset.keys(), ...inOffset.keys()])]
    for (let k = 0; k < touched.length; k += 10_000) pipeline.sadd(keys.stageAddresses(importId), ...touched.slice(k, k + 10_000))
    await execOrThrow(pipeline)
  }

  /**
   * Merges import `importId`'s staging area into the store: for every touched address, the
   * existing and staged records are sorted, de-duplicated (re-imports change nothing) and written
   * back with a fresh counterparty count. Holds the import lock so two commits never interleave.
   */
  async function commit(importId: string, onProgress?: (p: CommitProgress) => void): Promise<CommitResult> {
    const lockValue = importId
    const locked = await redis.set(keys.importLock, lockValue, 'PX', 600_000, 'NX')
    if (locked !== 'OK') throw new BaseError('WALK_BUSY', 'another import is committing into this store; try again when it is done', { field: 'lock', value: keys.importLock })
    try {
      const transfersBefore = Number((await redis.hget(keys.meta, 'transfers')) ?? 0)
      const total = await redis.scard(keys.stageAddresses(importId))
      let done = 0
      let cursor = '0'
      // Two chunks in flight: one merging in JS while Redis reads or writes the other.
      let previous: Promise<void> = Promise.resolve()
      const seen = new Set<string>() // SSCAN may return a member twice
      do {
        const [next, found] = await redis.sscan(keys.stageAddresses(importId), cursor, 'COUNT', COMMIT_CHUNK)
        cursor = next
        const members = found.filter((m) => !seen.has(m))
        for (const m of members) seen.add(m)
        if (members.length > 0) {
          const merging = mergeChunk(importId, members as Address[])
          await previous
          previous = merging.then(() => {
            done += members.length
            onProgress?.({ addressesDone: done, addressesTotal: total })
          })
        }
      } while (cursor !== '0')
      await previous
      await redis.multi().del(keys.stageAddresses(importId)).hset(keys.meta, 'lastImport', new Date().toISOString()).exec()
      const transfersAfter = Number((await redis.hget(keys.meta, 'transfers')) ?? 0)
      return { addresses: total, transfersBefore, transfersAfter }
    } finally {
      // Release only our own lock.
      if ((await redis.get(keys.importLock)) === lockValue) await redis.del(keys.importLock)
    }
  }

  async function mergeChunk(importId: string, addresses: readonly Address[]): Promise<void> {
    const readKeys = addresses.flatMap((a) => [keys.node(a), keys.stage(importId, 'o', a), keys.stage(importId, 'i', a)])
    const replies = await redis.mgetBuffer(...readKeys)
    const writes: (string | Buffer)[] = []
    let transferDelta = 0
    let addressDelta = 0
    addresses.forEach((a, index) => {
      const old = replies[index * 3] ?? null
      const stagedOut = replies[index * 3 + 1] ?? null
      const stagedIn = replies[index * 3 + 2] ?? null
      const before = splitNode(old)
      const out = sortUnique(stagedOut === null ? before.out : Buffer.concat([before.out, stagedOut]), OUT_SIZE)
      const inn = sortUnique(stagedIn === null ? before.in : Buffer.concat([before.in, stagedIn]), IN_SIZE)
      const node = joinNode(a, out, inn)
      if (node !== null) writes.push(keys.node(a), node)
      transferDelta += (out.length - before.out.length) / OUT_SIZE
      if (old === null && node !== null) addressDelta++
    })
    // One MSET and one DEL per chunk: the store's keys share one hash tag, so multi-key commands
    // stay legal on a Redis Cluster too.
    const write = redis.multi()
    if (writes.length > 0) write.mset(...writes)
    write.del(...addresses.flatMap((a) => [keys.stage(importId, 'o', a), keys.stage(importId, 'i', a)]))
    write.hincrby(keys.meta, 'transfers', transferDelta)
    write.hincrby(keys.meta, 'addresses', addressDelta)
    await execOrThrow(write)
  }

  /** Drops an import's staging area (after a failed import: nothing reaches the store). */
  async function abort(importId: string): Promise<void> {
    let cursor = '0'
    do {
      const [next, members] = await redis.sscan(keys.stageAddresses(importId), cursor, 'COUNT', COMMIT_CHUNK)
      cursor = next
      if (members.length > 0) {
        const pipeline = redis.pipeline()
        for (const a of members as Address[]) pipeline.del(keys.stage(importId, 'o', a), keys.stage(importId, 'i', a))
        await execOrThrow(pipeline)
      }
    } while (cursor !== '0')
    await redis.del(keys.stageAddresses(importId))
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

/** Consecutive byte ranges, one per address, for `count` records of `size` bytes each. */
function offsets(counts: ReadonlyMap<Address, number>, size: number): Map<Address, { start: number; next: number }> {
  const ranges = new Map<Address, { start: number; next: number }>()
  let at = 0
  for (const [address, count] of counts) {
    ranges.set(address, { start: at, next: at })
    at += count * size
  }
  return ranges
}

/** Runs a pipeline and throws the first command error (ioredis reports them per command). */
export async function execOrThrow(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const results = (await pipeline.exec()) ?? []
  return results.map(([error, value]) => {
    if (error) throw error
    return value
  })
}
