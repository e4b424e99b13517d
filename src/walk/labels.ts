import type { HopLabel } from '../store/labels-format.ts'

// The label format (text as stored, seeds' labels) is the store's: src/store/labels-format.ts.
export { SEED_COST, formatLabels, parseLabels, seedLabel, type HopLabel } from '../store/labels-format.ts'

/**
 * A label's key: the predecessor and the transfer, named by what identifies the record in the
 * predecessor's list whatever is inserted before it later (an import after the walk does not move
 * it, so labels stay valid for incremental walks, and keys compare the same in every walk):
 *   downstream (the predecessor's out-record): position (6 bytes) + asset (1) + kind/sub-index (3)
 *   upstream (the successor's in-record):      position (6 bytes) + asset (1) + amount as kept (8)
 * as hex after the predecessor's hex40. Among records of one position to one address these are
 * unique (one transaction; its transfers differ in sub-index, and equal in-records are one).
 */
export function outRecordKey(predecessorHex: string, list: Buffer, offset: number): string {
  return predecessorHex + list.toString('hex', offset, offset + 6) + list.toString('hex', offset + 26, offset + 27) + list.toString('hex', offset + 71, offset + 74)
}

export function inRecordKey(successorHex: string, list: Buffer, offset: number): string {
  return successorHex + list.toString('hex', offset, offset + 6) + list.toString('hex', offset + 26, offset + 35)
}

/** The predecessor of a label's key (hex40). */
export function keyNeighbour(key: string): string {
  return key.slice(0, 40)
}

/**
 * The offset of the record a key names in the neighbour's list (its out-list downstream, its in-list
 * upstream), whose counterparty is `ownerHex`; -1 when it is not there.
 */
export function findKeyed(list: Buffer, size: number, key: string, ownerHex: string): number {
  const tag = Buffer.from(key.slice(40), 'hex')
  const position = tag.readUInt32BE(0) * 65536 + tag.readUInt16BE(4)
  const owner = Buffer.from(ownerHex, 'hex')
  const n = list.length / size
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list.readUInt32BE(mid * size) * 65536 + list.readUInt16BE(mid * size + 4) < position) lo = mid + 1
    else hi = mid
  }
  for (let i = lo; i < n; i++) {
    const o = i * size
    if (list.compare(tag, 0, 6, o, o + 6) !== 0) return -1
    if (list.compare(owner, 0, 20, o + 6, o + 26) !== 0 || list[o + 26] !== tag[6]) continue
    const rest = size === 74 ? list.compare(tag, 7, 10, o + 71, o + 74) : list.compare(tag, 7, 15, o + 27, o + 35)
    if (rest === 0) return o
  }
  return -1
}

/** The label with the fewest hops: the answer for an address. */
export function bestLabel(labels: readonly HopLabel[]): HopLabel | undefined {
  let best: HopLabel | undefined
  for (const l of labels) if (best === undefined || l.hops < best.hops) best = l
  return best
}
