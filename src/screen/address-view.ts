/**
 * What the store knows about one address, for investigators (GET /v1/addresses/{address} and
 * …/neighbours): its answer, seed provenance and service label, first and last transfer, counts,
 * and its counterparties with aggregated transfers, paged so that a hub with 100,000
 * counterparties pages instead of timing out.
 */
import { checksumAddress as getAddress } from '../walk/checksum.ts'
import { isExposureError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import { readBlockTimes } from '../store/block-times.ts'
import { mgetBufferByPartition } from '../store/partitions.ts'
import { HEADER_SIZE, IN_SIZE, MAX_AMOUNT, OUT_SIZE, decodeRecord, lowerBound, outMatchesIn, readPosition, splitNode } from '../store/records.ts'
import type { Address, Asset, Seed, ServiceLabel } from '../types.ts'
import { answerJson, seedInfo, type AnswerJson } from '../walk/answer-json.ts'
import type { createChecker } from '../walk/check.ts'
import { readRecords, type ScreenRecord } from './records.ts'

export interface Position {
  blockNumber: number
  transactionIndex: number
  /** Block time (seconds) when the store knows it. */
  timestamp: number | null
}

export interface AddressView {
  address: string
  /** The published walk's answer; null when no walk is published. */
  answer: AnswerJson | null
  seed: (NonNullable<ReturnType<typeof seedInfo>> & { provenance: Record<string, string> }) | null
  label: { label: string; category: string; source: string | null } | null
  transfersIn: number
  transfersOut: number
  counterparties: number
  firstSeen: Position | null
  lastSeen: Position | null
  /** The last screening answer recorded for it (POST /v1/screen). */
  lastScreening: { at: string; key: string | null; risk: string; basis: ScreenRecord['basis'] } | null
}

export type NeighbourDirection = 'out' | 'in'

export interface Neighbour {
  address: string
  /** out: the address sent to it; in: it sent to the address. */
  direction: NeighbourDirection
  transfers: number
  /** Totals per asset ('ETH' or the token's address), decimal strings in base units. */
  totals: { asset: string; amount: string }[]
  first: Omit<Position, 'timestamp'>
  last: Omit<Position, 'timestamp'>
}

export interface NeighbourPage {
  address: string
  direction: 'out' | 'in' | 'both'
  /** Counterparty entries in all (an address both sent to and received from counts once per direction). */
  total: number
  neighbours: Neighbour[]
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null
}

interface Aggregate {
  hex: string
  direction: NeighbourDirection
  count: number
  totals: Map<number, bigint>
  first: number
  last: number
  /** In-records whose amount is saturated (2^64-1): fixed from the senders' out-records for a page. */
  saturated: number[]
  /** Out-records at the 96-bit ceiling: their exact amounts are on the side (P:amounts). */
  ceiling: number[]
}

export function createAddressViews(store: GraphStore, checker: ReturnType<typeof createChecker>) {
  const { redis, keys } = store
  /** Aggregations of the few addresses paged last, by address, store version and direction. */
  const cache = new Map<string, Aggregate[]>()

  async function view(address: Address): Promise<AddressView> {
    const nodeKey = keys.node(address)
    const head = await redis.multi().getrangeBuffer(nodeKey, 0, HEADER_SIZE - 1).strlen(nodeKey).hget(keys.seeds, address).hget(keys.labels, address).exec()
    const [header, length, seedJson, labelJson] = (head ?? []).map(([, v]) => v) as [Buffer, number, string | null, string | null]
    let answer: AnswerJson | null = null
    try {
      answer = answerJson((await checker.check([address]))[0]!)
    } catch (error) {
      if (!isExposureError(error, 'NO_WALK')) throw error
    }
    let transfersOut = 0
    let transfersIn = 0
    let counterparties = 0
    const positions: number[] = []
    if (header.length === HEADER_SIZE) {
      counterparties = header.readUInt32BE(0)
      transfersOut = header.readUInt32BE(4)
      transfersIn = (length - HEADER_SIZE - transfersOut * OUT_SIZE) / IN_SIZE
      const inStart = HEADER_SIZE + transfersOut * OUT_SIZE
      const ranges: [number, number][] = []
      if (transfersOut > 0) ranges.push([HEADER_SIZE, HEADER_SIZE + 5], [inStart - OUT_SIZE, inStart - OUT_SIZE + 5])
      if (transfersIn > 0) ranges.push([inStart, inStart + 5], [length - IN_SIZE, length - IN_SIZE + 5])
      const pipeline = redis.pipeline()
      for (const [a, b] of ranges) pipeline.getrangeBuffer(nodeKey, a, b)
      for (const [, v] of (await pipeline.exec()) ?? []) positions.push(readPosition(v as Buffer, 0))
    }
    const firstSeen = positions.length === 0 ? null : Math.min(...positions)
    const lastSeen = positions.length === 0 ? null : Math.max(...positions)
    const known = firstSeen === null ? new Map<number, number>() : await readBlockTimes(redis, keys, [Math.floor(firstSeen / 65536), Math.floor(lastSeen! / 65536)])
    const position = (p: number | null): Position | null => (p === null ? null : { blockNumber: Math.floor(p / 65536), transactionIndex: p % 65536, timestamp: known.get(Math.floor(p / 65536)) ?? null })
    const seed = seedJson === null ? null : (JSON.parse(seedJson) as Seed)
    const label = labelJson === null ? null : (JSON.parse(labelJson) as ServiceLabel)
    const [record] = await readRecords(redis, keys, [address])
    return {
      address: getAddress(address),
      answer,
      seed: seed === null ? null : { ...seedInfo(seed)!, provenance: seed.extra ?? {} },
      label: label === null ? null : { label: label.label, category: label.category, source: label.source ?? null },
      transfersIn,
      transfersOut,
      counterparties,
      firstSeen: position(firstSeen),
      lastSeen: position(lastSeen),
      lastScreening: record ? { at: record.at, key: record.key, risk: record.summary.risk, basis: record.basis } : null,
    }
  }

  async function aggregate(address: Address, direction: 'out' | 'in' | 'both'): Promise<{ list: Aggregate[]; node: Buffer | null }> {
    const version = (await redis.hget(keys.meta, 'version')) ?? '0'
    const cacheKey = `${address}|${version}|${direction}`
    const cached = cache.get(cacheKey)
    if (cached) return { list: cached, node: null }
    const node = await redis.getBuffer(keys.node(address))
    const { out, in: inn } = splitNode(node)
    const byKey = new Map<string, Aggregate>()
    const add = (records: Buffer, size: number, dir: NeighbourDirection) => {
      for (let o = 0; o < records.length; o += size) {
        const hex = records.toString('hex', o + 6, o + 26)
        const key = `${hex}${dir}`
        let a = byKey.get(key)
        if (!a) {
          a = { hex, direction: dir, count: 0, totals: new Map(), first: Number.POSITIVE_INFINITY, last: -1, saturated: [], ceiling: [] }
          byKey.set(key, a)
        }
        const position = readPosition(records, o)
        const assetId = records[o + 26]!
        const amount = size === OUT_SIZE ? decodeRecord(records, o, OUT_SIZE).amount : records.readBigUInt64BE(o + 27)
        if (size === IN_SIZE && amount === 0xffffffffffffffffn) a.saturated.push(o)
        if (size === OUT_SIZE && amount === MAX_AMOUNT) a.ceiling.push(o)
        a.count++
        a.totals.set(assetId, (a.totals.get(assetId) ?? 0n) + amount)
        if (position < a.first) a.first = position
        if (position > a.last) a.last = position
      }
    }
    if (direction !== 'in') add(out, OUT_SIZE, 'out')
    if (direction !== 'out') add(inn, IN_SIZE, 'in')
    const list = [...byKey.values()].sort((a, b) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : a.direction < b.direction ? 1 : -1))
    if (cache.size >= 8) cache.delete(cache.keys().next().value!)
    cache.set(cacheKey, list)
    return { list, node }
  }

  /** One page of counterparties, ordered by address (then out before in). */
  async function neighbours(address: Address, direction: 'out' | 'in' | 'both', limit: number, cursor: string | null): Promise<NeighbourPage> {
    const { list } = await aggregate(address, direction)
    let start = 0
    if (cursor !== null) {
      const [hex, dir] = decodeCursor(cursor)
      // The first entry after the cursor's (keyset paging: stable while the store changes).
      let lo = 0
      let hi = list.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        const e = list[mid]!
        const after = e.hex > hex || (e.hex === hex && dir === 'out' && e.direction === 'in')
        if (after) hi = mid
        else lo = mid + 1
      }
      start = lo
    }
    const page = list.slice(start, start + limit)
    const assets = await store.loadAssets()
    const exact = await exactTotals(address, page)
    const neighbours = page.map((a, i): Neighbour => ({
      address: getAddress(`0x${a.hex}`),
      direction: a.direction,
      transfers: a.count,
      totals: [...exact[i]!.entries()].sort((x, y) => x[0] - y[0]).map(([id, amount]) => ({ asset: assetName(assets[id]), amount: amount.toString() })),
      first: { blockNumber: Math.floor(a.first / 65536), transactionIndex: a.first % 65536 },
      last: { blockNumber: Math.floor(a.last / 65536), transactionIndex: a.last % 65536 },
    }))
    const last = page[page.length - 1]
    return { address: getAddress(address), direction, total: list.length, neighbours, nextCursor: start + limit < list.length && last ? encodeCursor(last.hex, last.direction) : null }
  }

  /**
   * Totals with exact amounts: in-records keep amounts only to 2^64-1 (records.ts), so a page's
   * saturated in-transfers are summed from the senders' out-records instead; out-records hold 96
   * bits and the store keeps larger ones on the side (exactAmount).
   */
  async function exactTotals(address: Address, page: readonly Aggregate[]): Promise<Map<number, bigint>[]> {
    const out = page.map((a) => new Map(a.totals))
    const needing = page.map((a, i) => ({ a, i })).filter(({ a }) => a.saturated.length > 0)
    const big = page.map((a, i) => ({ a, i })).filter(({ a }) => a.ceiling.length > 0)
    if (needing.length === 0 && big.length === 0) return out
    const node = await redis.getBuffer(keys.node(address))
    const lists = splitNode(node)
    if (needing.length > 0) {
      const senders = await mgetBufferByPartition(redis, (h) => keys.node(`0x${h}`), needing.map(({ a }) => a.hex))
      const me = Buffer.from(address.slice(2), 'hex')
      needing.forEach(({ a, i }, k) => {
        const senderOut = splitNode(senders[k] ?? null).out
        for (const offset of a.saturated) {
          const inRecord = lists.in.subarray(offset, offset + IN_SIZE)
          const position = readPosition(inRecord, 0)
          for (let j = lowerBound(senderOut, OUT_SIZE, position); j < senderOut.length / OUT_SIZE; j++) {
            if (readPosition(senderOut, j * OUT_SIZE) !== position) break
            if (outMatchesIn(senderOut, j * OUT_SIZE, inRecord, me)) {
              const assetId = inRecord[26]!
              const exactAmount = decodeRecord(senderOut, j * OUT_SIZE, OUT_SIZE).amount
              out[i]!.set(assetId, out[i]!.get(assetId)! - 0xffffffffffffffffn + exactAmount)
              break
            }
          }
        }
      })
    }
    // Out amounts at the records' ceiling are kept exactly on the side (absurd token amounts only).
    for (const { a, i } of big) {
      for (const o of a.ceiling) {
        const r = decodeRecord(lists.out, o, OUT_SIZE)
        const exactAmount = await store.exactAmount({ txHash: r.txHash!, kind: r.kind!, subIndex: r.subIndex!, from: address, to: r.counterparty, amount: r.amount })
        out[i]!.set(r.assetId, out[i]!.get(r.assetId)! - MAX_AMOUNT + exactAmount)
      }
    }
    return out
  }

  return { view, neighbours }
}

function assetName(asset: Asset | undefined): string {
  return asset === undefined || asset === 'ETH' ? 'ETH' : getAddress(asset)
}

export function encodeCursor(hex: string, direction: NeighbourDirection): string {
  return Buffer.from(`${hex}.${direction}`).toString('base64url')
}

/** The cursor's (hex40, direction); throws InputError-like RangeError on a malformed one (the route maps it to 400). */
export function decodeCursor(cursor: string): [string, NeighbourDirection] {
  const text = Buffer.from(cursor, 'base64url').toString('utf8')
  const match = /^([0-9a-f]{40})\.(out|in)$/.exec(text)
  if (!match) throw new RangeError(`not a cursor of this endpoint: ${JSON.stringify(cursor)}`)
  return [match[1]!, match[2] as NeighbourDirection]
}
