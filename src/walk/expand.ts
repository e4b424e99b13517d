import { IN_SIZE, OUT_SIZE, lowerBound, recordAmount, upperBound } from '../store/records.ts'
import type { Direction } from '../types.ts'
import type { Candidate } from '../store/labels-format.ts'
import { inRecordKey, outRecordKey, type HopLabel } from './labels.ts'

export type { Candidate }

export interface ExpandNode {
  /** The address being expanded (hex40, no 0x). Must be passable (a seed or not a stop node). */
  hex: string
  labels: readonly HopLabel[]
  /** Its out-records (downstream) or in-records (upstream), sorted, nothing else. */
  adjacency: Buffer
}

/**
 * Relaxes the transfers of passable addresses: for every label (h, c) with h < maxHops and every
 * neighbour, the earliest transfer that can extend it (downstream: the first out-transfer at
 * position ≥ c; upstream: the last in-transfer at position ≤ -c) becomes a candidate (h+1, …).
 * Ties at equal positions go to the smaller record (sorted lists make that the first seen), so
 * the result does not depend on anything but the store. Pure: no Redis here.
 *
 * `dust[assetId]` is the minimum amount that counts for that asset (undefined: no minimum).
 */
export function expandNodes(direction: Direction, maxHops: number, nodes: readonly ExpandNode[], dust: readonly (bigint | undefined)[]): Candidate[] {
  const candidates: Candidate[] = []
  const hasDust = dust.some((d) => d !== undefined && d > 0n)
  for (const node of nodes) {
    const labels = [...node.labels].filter((l) => l.hops < maxHops).sort((a, b) => a.hops - b.hops)
    // Per neighbour, the cost offered by a label with fewer hops: a later label only adds a
    // candidate if it reaches that neighbour strictly earlier (otherwise it is dominated).
    const offered = new Map<string, number>()
    for (const label of labels) {
      const found = direction === 'downstream' ? scanOut(node.adjacency, label.cost, dust, hasDust) : scanIn(node.adjacency, -label.cost, dust, hasDust)
      for (const [neighbour, hit] of found) {
        const cost = direction === 'downstream' ? hit.position : -hit.position
        const previous = offered.get(neighbour)
        if (previous !== undefined && previous <= cost) continue
        offered.set(neighbour, cost)
        const key = direction === 'downstream' ? outRecordKey(node.hex, node.adjacency, hit.index * OUT_SIZE) : inRecordKey(node.hex, node.adjacency, hit.index * IN_SIZE)
        candidates.push({ hex: neighbour, hops: label.hops + 1, cost, key })
      }
    }
  }
  return candidates
}

interface Hit {
  position: number
  index: number
}

function positionAt(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * 65536 + buf.readUInt16BE(offset + 4)
}

/** In-records hold amounts saturated at 2^64-1: exact for the floors config accepts (< 2^64). */
function belowDust(buf: Buffer, offset: number, size: number, dust: readonly (bigint | undefined)[]): boolean {
  const floor = dust[buf.readUInt8(offset + 26)]
  return floor !== undefined && floor > 0n && recordAmount(buf, offset, size) < floor
}

/** Downstream: for each recipient, the first out-record at position ≥ from. */
function scanOut(buf: Buffer, from: number, dust: readonly (bigint | undefined)[], hasDust: boolean): Map<string, Hit> {
  const hits = new Map<string, Hit>()
  const n = buf.length / OUT_SIZE
  for (let i = lowerBound(buf, OUT_SIZE, from); i < n; i++) {
    const offset = i * OUT_SIZE
    if (hasDust && belowDust(buf, offset, OUT_SIZE, dust)) continue
    const to = buf.toString('hex', offset + 6, offset + 26)
    if (!hits.has(to)) hits.set(to, { position: positionAt(buf, offset), index: i })
  }
  return hits
}

/** Upstream: for each sender, the last in-record at position ≤ until (smallest record on ties). */
function scanIn(buf: Buffer, until: number, dust: readonly (bigint | undefined)[], hasDust: boolean): Map<string, Hit> {
  const hits = new Map<string, Hit>()
  for (let i = upperBound(buf, IN_SIZE, until) - 1; i >= 0; i--) {
    const offset = i * IN_SIZE
    if (hasDust && belowDust(buf, offset, IN_SIZE, dust)) continue
    const from = buf.toString('hex', offset + 6, offset + 26)
    const position = positionAt(buf, offset)
    const hit = hits.get(from)
    if (hit === undefined) hits.set(from, { position, index: i })
    else if (hit.position === position) hit.index = i
  }
  return hits
}
