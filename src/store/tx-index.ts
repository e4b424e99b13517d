/**
 * The join that token transfers need, kept in the store so that it works in any order and across
 * commands. ethereum-etl (and BigQuery) export token transfers without a transaction index; the
 * index comes from the transactions table, which may arrive in another file, another command, or
 * later.
 *
 * - Per block, the store keeps its transactions as sorted 10-byte entries: the first 8 bytes of
 *   the tx hash and the u16 index (B:txi:<bucket> field block, keys.ts). 8 bytes are enough within one
 *   block; two transactions of one block sharing them (only by deliberate grinding) are marked
 *   ambiguous (index 0xffff) and a token transfer naming that prefix is reported, never guessed.
 * - Token transfers whose transaction is not known yet wait in B:ptok:<bucket> field block (whole
 *   records, 109 bytes each) until an import brings that block's transactions; the commit that
 *   does so turns them into transfers.
 */
import { BaseError } from '../errors.ts'

export const TX_ENTRY = 10
const PREFIX = 8
export const AMBIGUOUS = 0xffff

/** A token transfer without its transaction index: 109 bytes. */
export const PENDING_TOKEN = 32 + 20 + 20 + 1 + 32 + 4

export interface PendingToken {
  txHash: `0x${string}`
  from: `0x${string}`
  to: `0x${string}`
  assetId: number
  amount: bigint
  logIndex: number
}

/** Entry for the per-block map: hash prefix, index. */
export function txEntry(txHash: string, index: number): Buffer {
  const entry = Buffer.allocUnsafe(TX_ENTRY)
  entry.write(txHash.slice(2, 2 + PREFIX * 2), 0, PREFIX, 'hex')
  entry.writeUInt16BE(index, PREFIX)
  return entry
}

/**
 * Merges per-block entries (an existing map and new entries, any order) into one sorted map.
 * The same prefix with the same index is one entry (a re-import); with another index it is
 * marked ambiguous. Entries are compared as numbers (the prefix as two u32, then the index), not
 * as Buffers: a commit merges millions of them, and a Buffer per entry and a native compare per
 * step were most of its token join.
 */
export function mergeTxEntries(parts: readonly Buffer[]): Buffer {
  let n = 0
  for (const part of parts) n += Math.floor(part.length / TX_ENTRY)
  const high = new Uint32Array(n)
  const low = new Uint32Array(n)
  const index = new Uint16Array(n)
  let k = 0
  for (const part of parts) {
    for (let o = 0; o + TX_ENTRY <= part.length; o += TX_ENTRY, k++) {
      high[k] = part.readUInt32BE(o)
      low[k] = part.readUInt32BE(o + 4)
      index[k] = part.readUInt16BE(o + PREFIX)
    }
  }
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  order.sort((a, b) => high[a]! - high[b]! || low[a]! - low[b]! || index[a]! - index[b]!)
  const out = Buffer.allocUnsafe(n * TX_ENTRY)
  let m = 0
  for (let j = 0; j < n; j++) {
    const i = order[j]!
    if (m > 0 && out.readUInt32BE((m - 1) * TX_ENTRY) === high[i] && out.readUInt32BE((m - 1) * TX_ENTRY + 4) === low[i]) {
      if (out.readUInt16BE((m - 1) * TX_ENTRY + PREFIX) !== index[i]) out.writeUInt16BE(AMBIGUOUS, (m - 1) * TX_ENTRY + PREFIX)
      continue
    }
    out.writeUInt32BE(high[i]!, m * TX_ENTRY)
    out.writeUInt32BE(low[i]!, m * TX_ENTRY + 4)
    out.writeUInt16BE(index[i]!, m * TX_ENTRY + PREFIX)
    m++
  }
  return out.subarray(0, m * TX_ENTRY)
}

/** The index of `txHash` in a block's map: a number, 'ambiguous', or undefined when unknown. */
export function lookupTx(map: Buffer | null | undefined, txHash: string): number | 'ambiguous' | undefined {
  if (!map || map.length === 0) return undefined
  // The prefix as two u32 (see mergeTxEntries).
  // Not hex: parseInt would give NaN, and NaN compares as neither less nor greater (a false match).
  if (!/^0x[0-9a-fA-F]{16}/.test(txHash)) return undefined
  const wantHigh = Number.parseInt(txHash.slice(2, 10), 16)
  const wantLow = Number.parseInt(txHash.slice(10, 18), 16)
  let lo = 0
  let hi = map.length / TX_ENTRY
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const at = mid * TX_ENTRY
    const cmp = map.readUInt32BE(at) - wantHigh || map.readUInt32BE(at + 4) - wantLow
    if (cmp < 0) lo = mid + 1
    else if (cmp > 0) hi = mid
    else {
      const index = map.readUInt16BE(at + PREFIX)
      return index === AMBIGUOUS ? 'ambiguous' : index
    }
  }
  return undefined
}

export function encodePendingToken(t: PendingToken, buf: Buffer = Buffer.allocUnsafe(PENDING_TOKEN), offset = 0): Buffer {
  if (t.amount < 0n || t.amount >= 1n << 256n) throw new BaseError('INTERNAL', `token amount out of uint256 range (${t.txHash})`)
  buf.write(t.txHash.slice(2), offset, 32, 'hex')
  buf.write(t.from.slice(2), offset + 32, 20, 'hex')
  buf.write(t.to.slice(2), offset + 52, 20, 'hex')
  buf.writeUInt8(t.assetId, offset + 72)
  const hex = t.amount.toString(16).padStart(64, '0')
  buf.write(hex, offset + 73, 32, 'hex')
  buf.writeUInt32BE(t.logIndex, offset + 105)
  return buf
}

export function decodePendingToken(buf: Buffer, offset = 0): PendingToken {
  return {
    txHash: `0x${buf.toString('hex', offset, offset + 32)}`,
    from: `0x${buf.toString('hex', offset + 32, offset + 52)}`,
    to: `0x${buf.toString('hex', offset + 52, offset + 72)}`,
    assetId: buf.readUInt8(offset + 72),
    amount: BigInt(`0x${buf.toString('hex', offset + 73, offset + 105)}`),
    logIndex: buf.readUInt32BE(offset + 105),
  }
}

/** Sorted, de-duplicated concatenation of pending-token records. */
export function mergePendingTokens(parts: readonly Buffer[]): Buffer {
  const records: Buffer[] = []
  for (const part of parts) for (let o = 0; o + PENDING_TOKEN <= part.length; o += PENDING_TOKEN) records.push(part.subarray(o, o + PENDING_TOKEN))
  records.sort((a, b) => a.compare(b))
  const out: Buffer[] = []
  for (const r of records) if (out.length === 0 || out[out.length - 1]!.compare(r) !== 0) out.push(r)
  return Buffer.concat(out)
}
