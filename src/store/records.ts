import type { Address, Asset, TransferKind } from '../types.ts'

/**
 * Binary layout of the adjacency strings (why binary: memory per transfer is a design
 * constraint; a fixed record size lets us sort, de-duplicate and binary-search in place).
 *
 * Every adjacency string starts with a 4-byte header: the address's number of distinct
 * counterparties (in and out, self excluded), written when the string is compacted. The records
 * follow, sorted by their bytes, which sorts them by position first; identical records are stored
 * once, which is what makes re-imports idempotent.
 *
 * OUT record (80 bytes), in the sender's out-list:
 *   0  block          u32 BE
 *   4  txIndex        u16 BE
 *   6  to             20 bytes
 *  26  assetId        u8   (index into the store's asset table; 0 = ETH)
 *  27  amount         u128 BE (saturates at 2^128-1: more than any real balance of a listed asset)
 *  43  txHash         32 bytes
 *  75  kind           u8   (0 tx, 1 trace, 2 log)
 *  76  subIndex       u32 BE
 *
 * IN record (43 bytes), in the recipient's in-list: the first 43 bytes of the OUT record with
 * `to` replaced by `from`. The tx hash is not repeated (32 bytes per transfer saved); a witness
 * path finds it in the sender's out-list by binary search on the position.
 */
export const HEADER_SIZE = 4
export const OUT_SIZE = 80
export const IN_SIZE = 43
const POS_SIZE = 6
const MAX_U128 = (1n << 128n) - 1n

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

function writeU128(buf: Buffer, offset: number, value: bigint): void {
  const v = value > MAX_U128 ? MAX_U128 : value
  buf.writeBigUInt64BE(v >> 64n, offset)
  buf.writeBigUInt64BE(v & 0xffffffffffffffffn, offset + 8)
}

export function readU128(buf: Buffer, offset: number): bigint {
  return (buf.readBigUInt64BE(offset) << 64n) | buf.readBigUInt64BE(offset + 8)
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
  buf.write(f.txHash.slice(2), offset + 43, 32, 'hex')
  buf.writeUInt8(KIND_CODES[f.kind], offset + 75)
  buf.writeUInt32BE(f.subIndex >>> 0, offset + 76)
}

/** Writes one IN record (counterparty = sender) into `buf` at `offset`. */
export function writeInRecord(buf: Buffer, offset: number, f: RecordFields): void {
  writeCommon(buf, offset, f)
}

function writeCommon(buf: Buffer, offset: number, f: RecordFields): void {
  buf.writeUInt32BE(f.blockNumber, offset)
  buf.writeUInt16BE(f.transactionIndex, offset + 4)
  writeAddress(buf, offset + POS_SIZE, f.counterparty)
  buf.writeUInt8(f.assetId, offset + 26)
  writeU128(buf, offset + 27, f.amount)
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
    amount: readU128(buf, offset + 27),
  }
  if (size === OUT_SIZE) {
    base.txHash = `0x${buf.toString('hex', offset + 43, offset + 75)}`
    base.kind = KINDS[buf.readUInt8(offset + 75)] ?? 'tx'
    base.subIndex = buf.readUInt32BE(offset + 76)
  }
  return base
}

/**
 * Sorts fixed-size records by their bytes and drops duplicates. Returns a new buffer (records
 * only, no header). Already-sorted input (the common case: etl exports are in block order) is
 * detected in one pass and only de-duplicated.
 */
export function sortUnique(records: Buffer, size: number): Buffer {
  const n = records.length / size
  if (!Number.isInteger(n)) throw new RangeError(`record buffer of ${records.length} bytes is not a multiple of ${size}`)
  // Buffer#compare(target, tStart, tEnd, sStart, sEnd) compares the *source* range with the target.
  const compare = (a: number, b: number): number => records.compare(records, b * size, (b + 1) * size, a * size, (a + 1) * size)
  let sorted = true
  for (let i = 1; i < n && sorted; i++) {
    if (compare(i - 1, i) > 0) sorted = false
  }
  const order = Array.from({ length: n }, (_, i) => i)
  if (!sorted) order.sort(compare)
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

/** Index of the first record whose position is ≥ `position` (records sorted, after the header). */
export function lowerBound(buf: Buffer, size: number, position: number): number {
  let lo = 0
  let hi = (buf.length - HEADER_SIZE) / size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (readPosition(buf, HEADER_SIZE + mid * size) < position) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Index one past the last record whose position is ≤ `position`. */
export function upperBound(buf: Buffer, size: number, position: number): number {
  let lo = 0
  let hi = (buf.length - HEADER_SIZE) / size
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (readPosition(buf, HEADER_SIZE + mid * size) <= position) lo = mid + 1
    else hi = mid
  }
  return lo
}

export function assetLabel(assets: readonly Asset[], assetId: number): Asset {
  const asset = assets[assetId]
  if (asset === undefined) throw new RangeError(`unknown asset id ${assetId}`)
  return asset
}
