import type { Address, Asset, TransferKind } from '../types.ts'

/**
 * Binary layout of an address's node string (why binary: memory per transfer is a design
 * constraint; fixed record sizes let us sort, de-duplicate and binary-search in place).
 *
 * One string per address holds both of its lists, so the per-key overhead of Redis (~100 bytes)
 * is paid once per address:
 *
 *   0  counterparties  u32 BE  distinct counterparties, in and out, self excluded (the hub test)
 *   4  outCount        u32 BE  number of out-records
 *   8  out-records     outCount × 76 bytes, sorted by their bytes (so by position first)
 *   …  in-records      the rest, × 39 bytes, sorted likewise
 *
 * Identical records are stored once: that is what makes re-imports idempotent.
 *
 * OUT record (74 bytes), in the sender's node:
 *   0  block          u32 BE
 *   4  txIndex        u16 BE
 *   6  to             20 bytes
 *  26  assetId        u8   (index into the store's asset table; 0 = ETH)
 *  27  amount         u96 BE (saturates at 2^96-1 ≈ 7.9e28: more than all ether in wei, 1.2e26,
 *                     and any real amount of a listed token)
 *  39  txHash         32 bytes
 *  71  kind, subIndex u24 BE: kind in the top 2 bits (0 tx, 1 trace, 2 log), subIndex in the low 22
 *                     (a log index, or trace-index.ts's number for an internal call: < 2^22)
 *
 * IN record (35 bytes), in the recipient's node: position, `from` where the OUT record has `to`,
 * asset, and the amount as u64 saturating at 2^64-1. The tx hash is not repeated, and the amount
 * is cut to what the walk needs from an in-record: the dust test `amount < floor`, exact for every
 * floor below 2^64 (config refuses larger floors). A witness path finds the full out-record (tx
 * hash, exact amount) in the sender's node by binary search on the position (outMatchesIn).
 */
export const HEADER_SIZE = 8
export const OUT_SIZE = 74
export const IN_SIZE = 35
const POS_SIZE = 6
/** Where a record's asset id is (the same in OUT and IN records). */
export const ASSET_OFFSET = 26
const AMOUNT_OFFSET = 27
/** The largest amount a record holds: larger ones (never ETH; only absurd token amounts) are saturated here and kept exactly in P:amounts. */
export const MAX_AMOUNT = (1n << 96n) - 1n
const MAX_IN_AMOUNT = (1n << 64n) - 1n
/** Largest sub-index a record holds (22 bits). */
export const MAX_SUB_INDEX = 0x3fffff

export const KIND_CODES: Record<TransferKind, number> = { tx: 0, trace: 1, log: 2 }
export const KINDS: readonly TransferKind[] = ['tx', 'trace', 'log']

/** Position as one integer: block * 2^16 + txIndex (< 2^48, exact in a double). */
export function positionOf(blockNumber: number, transactionIndex: number): number {
  return blockNumber * 65536 + transactionIndex
}
export function blockOf(position: number): number {
  return Math.floor(position / 65536)
}
export function txIndexOf(position: number): number {
  return position % 65536
}

export function readPosition(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * 65536 + buf.readUInt16BE(offset + 4)
}

function writeAddress(buf: Buffer, offset: number, address: Address): void {
  buf.write(address.slice(2), offset, 20, 'hex')
}

export function readAddress(buf: Buffer, offset: number): Address {
  return `0x${buf.toString('hex', offset, offset + 20)}`
}

function writeAmount(buf: Buffer, offset: number, value: bigint): void {
  const v = value > MAX_AMOUNT ? MAX_AMOUNT : value
  buf.writeUInt32BE(Number(v >> 64n), offset)
  buf.writeBigUInt64BE(v & 0xffffffffffffffffn, offset + 4)
}

export function readAmount(buf: Buffer, offset: number): bigint {
  return (BigInt(buf.readUInt32BE(offset)) << 64n) | buf.readBigUInt64BE(offset + 4)
}

/** The amount of a record: exact in an OUT record, saturated at 2^64-1 in an IN record. */
export function recordAmount(buf: Buffer, offset: number, size: number): bigint {
  return size === OUT_SIZE ? readAmount(buf, offset + AMOUNT_OFFSET) : buf.readBigUInt64BE(offset + AMOUNT_OFFSET)
}

/**
 * True when the OUT record at `outOffset` (in the sender's node) is the transfer an IN record
 * (in the recipient's node, `recipient` its 20 address bytes) stands for: same position, asset
 * and recipient, and the OUT amount saturated as IN amounts are.
 */
export function outMatchesIn(out: Buffer, outOffset: number, inRecord: Buffer, recipient: Buffer): boolean {
  if (out.compare(inRecord, 0, POS_SIZE, outOffset, outOffset + POS_SIZE) !== 0) return false
  if (out.compare(recipient, 0, 20, outOffset + POS_SIZE, outOffset + POS_SIZE + 20) !== 0) return false
  if (out[outOffset + 26] !== inRecord[26]) return false
  const amount = readAmount(out, outOffset + AMOUNT_OFFSET)
  return (amount > MAX_IN_AMOUNT ? MAX_IN_AMOUNT : amount) === inRecord.readBigUInt64BE(AMOUNT_OFFSET)
}

export interface RecordFields {
  counterparty: Address
  blockNumber: number
  transactionIndex: number
  assetId: number
  amount: bigint
  txHash: `0x${string}`
  kind: TransferKind
  subIndex: number
}

/** Writes one OUT record (counterparty = recipient) into `buf` at `offset`. */
export function writeOutRecord(buf: Buffer, offset: number, f: RecordFields): void {
  writeCommon(buf, offset, f)
  writeAmount(buf, offset + AMOUNT_OFFSET, f.amount)
  buf.write(f.txHash.slice(2), offset + 39, 32, 'hex')
  if (!Number.isInteger(f.subIndex) || f.subIndex < 0 || f.subIndex > MAX_SUB_INDEX) throw new RangeError(`sub-index ${f.subIndex} does not fit 22 bits (${f.txHash})`)
  buf.writeUIntBE(KIND_CODES[f.kind] * 0x400000 + f.subIndex, offset + 71, 3)
}

/** Writes one IN record (counterparty = sender) into `buf` at `offset`. */
export function writeInRecord(buf: Buffer, offset: number, f: RecordFields): void {
  writeCommon(buf, offset, f)
  buf.writeBigUInt64BE(f.amount > MAX_IN_AMOUNT ? MAX_IN_AMOUNT : f.amount, offset + AMOUNT_OFFSET)
}

function writeCommon(buf: Buffer, offset: number, f: RecordFields): void {
  buf.writeUInt32BE(f.blockNumber, offset)
  buf.writeUInt16BE(f.transactionIndex, offset + 4)
  writeAddress(buf, offset + POS_SIZE, f.counterparty)
  buf.writeUInt8(f.assetId, offset + 26)
}

export interface DecodedRecord {
  position: number
  blockNumber: number
  transactionIndex: number
  counterparty: Address
  assetId: number
  amount: bigint
  txHash?: `0x${string}`
  kind?: TransferKind
  subIndex?: number
}

export function decodeRecord(buf: Buffer, offset: number, size: number): DecodedRecord {
  const blockNumber = buf.readUInt32BE(offset)
  const transactionIndex = buf.readUInt16BE(offset + 4)
  const base: DecodedRecord = {
    position: positionOf(blockNumber, transactionIndex),
    blockNumber,
    transactionIndex,
    counterparty: readAddress(buf, offset + POS_SIZE),
    assetId: buf.readUInt8(offset + 26),
    amount: recordAmount(buf, offset, size),
  }
  if (size === OUT_SIZE) {
    const kindSub = buf.readUIntBE(offset + 71, 3)
    base.txHash = `0x${buf.toString('hex', offset + 39, offset + 71)}`
    base.kind = KINDS[Math.floor(kindSub / 0x400000)] ?? 'tx'
    base.subIndex = kindSub % 0x400000
  }
  return base
}

/**
 * Sorts fixed-size records by their bytes and drops duplicates. Returns a new buffer (records
 * only, no header). Already-sorted input (the common case: etl exports are in block order) is
 * detected in one pass and only de-duplicated, and returned as it is (no copy) when it has no
 * duplicates.
 */
export function sortUnique(records: Buffer, size: number): Buffer {
  const n = records.length / size
  if (!Number.isInteger(n)) throw new RangeError(`record buffer of ${records.length} bytes is not a multiple of ${size}`)
  // Buffer#compare(target, tStart, tEnd, sStart, sEnd) compares the *source* range with the target.
  const compare = (a: number, b: number): number => records.compare(records, b * size, (b + 1) * size, a * size, (a + 1) * size)
  // Merged lists are a few sorted runs (what the node held, then each file's or ingest job's rows
  // in chain order, in the order the jobs staged them): merge the runs instead of sorting from
  // scratch when there are few.
  const runs: number[] = [0]
  let duplicates = false
  for (let i = 1; i < n; i++) {
    const order = compare(i - 1, i)
    if (order > 0) runs.push(i)
    else if (order === 0) duplicates = true
  }
  // Sorted and without duplicates (a new node's records, in chain order): nothing to do.
  if (runs.length === 1 && !duplicates) return records
  let order: number[]
  if (runs.length === 1) order = Array.from({ length: n }, (_, i) => i)
  else if (runs.length <= 64) order = mergeRuns(runs, n, compare)
  else order = Array.from({ length: n }, (_, i) => i).sort(compare)
  const out = Buffer.allocUnsafe(records.length)
  let written = 0
  let previous = -1
  for (const index of order) {
    if (previous >= 0 && compare(previous, index) === 0) continue
    records.copy(out, written * size, index * size, (index + 1) * size)
    written++
    previous = index
  }
  return out.subarray(0, written * size)
}

/**
 * The sorted, de-duplicated union of `stored` (sorted and de-duplicated: a node's list) and
 * `added` (any records, any order): what sortUnique(stored ++ added) gives. When `added` is small
 * against `stored` (a synced block's few records for a hub of millions), each added record is
 * placed by binary search and `stored` is copied around them in slices, instead of comparing
 * every record of it again.
 */
export function mergeIntoSorted(stored: Buffer, added: Buffer, size: number): Buffer {
  if (added.length === 0) return stored
  const n = stored.length / size
  const fresh = sortUnique(added, size)
  const k = fresh.length / size
  if (n === 0) return fresh
  if (k * Math.log2(n + 1) * 4 > n) return sortUnique(Buffer.concat([stored, fresh]), size)
  const parts: Buffer[] = []
  let copied = 0 // records of `stored` already in parts
  for (let j = 0; j < k; j++) {
    // First stored record ≥ the added one, at or after `copied` (the added ones ascend).
    let lo = copied
    let hi = n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (stored.compare(fresh, j * size, (j + 1) * size, mid * size, (mid + 1) * size) < 0) lo = mid + 1
      else hi = mid
    }
    if (lo < n && stored.compare(fresh, j * size, (j + 1) * size, lo * size, (lo + 1) * size) === 0) continue // held already
    if (lo > copied) parts.push(stored.subarray(copied * size, lo * size))
    parts.push(fresh.subarray(j * size, (j + 1) * size))
    copied = lo
  }
  if (parts.length === 0) return stored
  if (copied < n) parts.push(stored.subarray(copied * size))
  return Buffer.concat(parts)
}

/**
 * Distinct counterparties of a node after records were added to it, from its count before
 * (`before`, the header's), without counting the whole node again: each counterparty of an added
 * record (self excluded) that no record of the old lists names adds one. The old lists are
 * scanned once, a u32 of each counterparty first (no string per record): countCounterparties over
 * a hub of millions took seconds on every commit that touched it.
 */
export function countAfterAdding(self: Address, before: number, oldOut: Buffer, oldIn: Buffer, addedOut: Buffer, addedIn: Buffer): number {
  const selfKey = Buffer.from(self.slice(2), 'hex').toString('latin1')
  // The added counterparties (self apart), and their first four bytes for the scan's first test.
  const fresh = new Set<string>()
  for (const [list, size] of [[addedOut, OUT_SIZE], [addedIn, IN_SIZE]] as const) {
    for (let o = POS_SIZE; o < list.length; o += size) fresh.add(list.toString('latin1', o, o + 20))
  }
  fresh.delete(selfKey)
  const heads = new Set<number>()
  for (const key of fresh) heads.add(Buffer.from(key, 'latin1').readUInt32BE(0))
  let added = fresh.size
  for (const [list, size] of [[oldOut, OUT_SIZE], [oldIn, IN_SIZE]] as const) {
    for (let o = POS_SIZE; o < list.length && fresh.size > 0; o += size) {
      if (!heads.has(list.readUInt32BE(o))) continue
      if (fresh.delete(list.toString('latin1', o, o + 20))) added-- // an old record names it: not new
    }
  }
  return before + added
}

/** Merges ascending runs (starting at `starts`, the last ending at n) pairwise into one order. */
function mergeRuns(starts: readonly number[], n: number, compare: (a: number, b: number) => number): number[] {
  let lists: number[][] = starts.map((start, k) => Array.from({ length: (starts[k + 1] ?? n) - start }, (_, i) => start + i))
  while (lists.length > 1) {
    const next: number[][] = []
    for (let k = 0; k < lists.length; k += 2) {
      const a = lists[k]!
      const b = lists[k + 1]
      if (!b) {
        next.push(a)
        continue
      }
      const merged: number[] = new Array(a.length + b.length)
      let i = 0
      let j = 0
      let m = 0
      while (i < a.length && j < b.length) merged[m++] = compare(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!
      while (i < a.length) merged[m++] = a[i++]!
      while (j < b.length) merged[m++] = b[j++]!
      next.push(merged)
    }
    lists = next
  }
  return lists[0]!
}

/** Index of the first record whose position is ≥ `position` (a buffer of sorted records only). */
export function lowerBound(records: Buffer, size: number, position: number): number {
  let lo = 0
  let hi = records.length / size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (readPosition(records, mid * size) < position) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Index one past the last record whose position is ≤ `position`. */
export function upperBound(records: Buffer, size: number, position: number): number {
  let lo = 0
  let hi = records.length / size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (readPosition(records, mid * size) <= position) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** An address's node string, split into its parts (views, no copies). */
export interface NodeLists {
  counterparties: number
  out: Buffer
  in: Buffer
}

const EMPTY = Buffer.alloc(0)

export function splitNode(node: Buffer | null | undefined): NodeLists {
  if (!node || node.length < HEADER_SIZE) return { counterparties: 0, out: EMPTY, in: EMPTY }
  const outBytes = node.readUInt32BE(4) * OUT_SIZE
  return { counterparties: node.readUInt32BE(0), out: node.subarray(HEADER_SIZE, HEADER_SIZE + outBytes), in: node.subarray(HEADER_SIZE + outBytes) }
}

/**
 * Builds a node string from sorted, de-duplicated lists; null when both are empty (delete the key).
 * `counterparties`: their distinct count when the caller knows it (countAfterAdding), else counted here.
 */
export function joinNode(self: Address, out: Buffer, inn: Buffer, counterparties?: number): Buffer | null {
  if (out.length === 0 && inn.length === 0) return null
  const header = Buffer.allocUnsafe(HEADER_SIZE)
  header.writeUInt32BE(counterparties ?? countCounterparties(self, out, inn), 0)
  header.writeUInt32BE(out.length / OUT_SIZE, 4)
  return Buffer.concat([header, out, inn])
}

/** Distinct counterparties over both lists (self excluded): the hub test of stop nodes. */
export function countCounterparties(self: Address, out: Buffer, inn: Buffer): number {
  const seen = new Set<string>()
  for (let o = 0; o < out.length; o += OUT_SIZE) seen.add(out.toString('latin1', o + POS_SIZE, o + POS_SIZE + 20))
  for (let o = 0; o < inn.length; o += IN_SIZE) seen.add(inn.toString('latin1', o + POS_SIZE, o + POS_SIZE + 20))
  seen.delete(Buffer.from(self.slice(2), 'hex').toString('latin1'))
  return seen.size
}

export function assetLabel(assets: readonly Asset[], assetId: number): Asset {
  const asset = assets[assetId]
  if (asset === undefined) throw new RangeError(`unknown asset id ${assetId}`)
  return asset
}
