import { describe, expect, it } from 'vitest'
import { IN_SIZE, OUT_SIZE, sortUnique, writeInRecord, writeOutRecord } from '../../src/store/records.ts'
import { expandNodes, type Candidate, type ExpandNode } from '../../src/walk/expand.ts'
import { SEED_COST, findKeyed } from '../../src/walk/labels.ts'
import type { Address, Direction } from '../../src/types.ts'

/**
 * expandNodes at its edges: transfers exactly at a label's arrival (downstream) or departure
 * (upstream) position, one before and one after; equal positions to one neighbour (the smaller
 * record wins); and dust floors at, one below and one above their value, for ETH (asset id 0)
 * and for a token (another asset id), in both directions. Every expected value is written out.
 */
const NODE = 'aa'.padStart(40, '0')
const HASH = `0x${'11'.repeat(32)}` as const
const ETH_ID = 0
const TOKEN_ID = 3
// Different floors per asset, so that using one asset's floor for the other is seen too.
const ETH_FLOOR = 10n ** 15n
const TOKEN_FLOOR = 1000n
const DUST: (bigint | undefined)[] = [ETH_FLOOR, undefined, undefined, TOKEN_FLOOR]

const addr = (last: string) => `0x${last.padStart(40, '0')}` as Address
const pos = (block: number, txIndex: number) => block * 65536 + txIndex

interface Rec {
  peer: string
  block: number
  txIndex: number
  amount?: bigint
  assetId?: number
  subIndex?: number
}

function list(direction: Direction, records: readonly Rec[]): Buffer {
  const size = direction === 'downstream' ? OUT_SIZE : IN_SIZE
  const buf = Buffer.alloc(records.length * size)
  records.forEach((r, i) => {
    const fields = { counterparty: addr(r.peer), blockNumber: r.block, transactionIndex: r.txIndex, assetId: r.assetId ?? ETH_ID, amount: r.amount ?? 5n, txHash: HASH, kind: 'tx' as const, subIndex: r.subIndex ?? 0 }
    if (direction === 'downstream') writeOutRecord(buf, i * size, fields)
    else writeInRecord(buf, i * size, fields)
  })
  return sortUnique(buf, size)
}

/** The list the last expand() expanded: candidates' keys name records in it (walk/labels.ts). */
let expanded: { size: number; list: Buffer } = { size: OUT_SIZE, list: Buffer.alloc(0) }

function expand(direction: Direction, records: readonly Rec[], labels: ExpandNode['labels'], dust: (bigint | undefined)[] = []): Candidate[] {
  expanded = { size: direction === 'downstream' ? OUT_SIZE : IN_SIZE, list: list(direction, records) }
  return expandNodes(direction, 4, [{ hex: NODE, labels, adjacency: expanded.list }], dust)
}

/** [neighbour's last two hex digits, hops, cost, index of the record its key names in the expanded list], sorted by neighbour. */
const short = (candidates: readonly Candidate[]) =>
  candidates.map((c) => [c.hex.slice(-2), c.hops, c.cost, c.key === '' ? -1 : findKeyed(expanded.list, expanded.size, c.key, c.hex) / expanded.size] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1))

const seed = (direction: Direction) => [{ hops: 0, cost: SEED_COST[direction], key: '' }]

describe('expansion at the arrival / departure position', () => {
  it('downstream: an out-transfer exactly at the arrival position chains, one position earlier does not', () => {
    const arrived = [{ hops: 1, cost: pos(5, 3), key: 'k' }]
    const records = [
      { peer: 'b1', block: 5, txIndex: 2 }, // one position before the arrival: funds not there yet
      { peer: 'b2', block: 4, txIndex: 9 }, // earlier block, larger index: still before
      { peer: 'b3', block: 5, txIndex: 3 }, // exactly at the arrival (same transaction): chains
      { peer: 'b4', block: 5, txIndex: 4 }, // one after
    ]
    // Sorted by position: b2 (4,9) #0, b1 (5,2) #1, b3 (5,3) #2, b4 (5,4) #3.
    expect(short(expand('downstream', records, arrived))).toEqual([
      ['b3', 2, pos(5, 3), 2],
      ['b4', 2, pos(5, 4), 3],
    ])
  })

  it('upstream: an in-transfer exactly at the departure position chains, one position later does not', () => {
    const leaves = [{ hops: 1, cost: -pos(5, 3), key: 'k' }]
    const records = [
      { peer: 'c1', block: 5, txIndex: 4 }, // one after the departure: too late to reach the seed
      { peer: 'c2', block: 6, txIndex: 0 }, // later block
      { peer: 'c3', block: 5, txIndex: 3 }, // exactly at the departure (same transaction): chains
      { peer: 'c4', block: 5, txIndex: 2 }, // one before
    ]
    // Sorted: c4 (5,2) #0, c3 (5,3) #1, c1 (5,4) #2, c2 (6,0) #3.
    expect(short(expand('upstream', records, leaves))).toEqual([
      ['c3', 2, -pos(5, 3), 1],
      ['c4', 2, -pos(5, 2), 0],
    ])
  })

  it('downstream: of several transfers to one neighbour the earliest usable wins; at equal positions the smaller record wins', () => {
    const arrived = [{ hops: 1, cost: pos(5, 3), key: 'k' }]
    const records = [
      { peer: 'b1', block: 5, txIndex: 1 }, // before the arrival: unusable
      { peer: 'b1', block: 5, txIndex: 3, amount: 9n }, // at the arrival, larger record
      { peer: 'b1', block: 5, txIndex: 3, amount: 7n }, // at the arrival, smaller record (amount bytes)
      { peer: 'b1', block: 7, txIndex: 0 }, // later: not the earliest
      { peer: 'b2', block: 6, txIndex: 0, amount: 8n, subIndex: 2 },
      { peer: 'b2', block: 6, txIndex: 0, amount: 8n, subIndex: 1 }, // equal but for the sub-index: smaller
    ]
    // Sorted: b1 (5,1) #0, b1 (5,3) 7 #1, b1 (5,3) 9 #2, b2 (6,0) sub 1 #3, b2 sub 2 #4, b1 (7,0) #5.
    expect(short(expand('downstream', records, arrived))).toEqual([
      ['b1', 2, pos(5, 3), 1],
      ['b2', 2, pos(6, 0), 3],
    ])
  })

  it('upstream: of several transfers from one neighbour the latest usable wins; at equal positions the smaller record wins', () => {
    const leaves = [{ hops: 1, cost: -pos(5, 3), key: 'k' }]
    const records = [
      { peer: 'c1', block: 5, txIndex: 5 }, // after the departure: unusable
      { peer: 'c1', block: 5, txIndex: 3, amount: 9n }, // at the departure, larger record
      { peer: 'c1', block: 5, txIndex: 3, amount: 7n }, // at the departure, smaller record
      { peer: 'c1', block: 2, txIndex: 0 }, // earlier: not the latest
      { peer: 'c2', block: 4, txIndex: 0, amount: 8n, assetId: 2 },
      { peer: 'c2', block: 4, txIndex: 0, amount: 8n, assetId: 1 }, // equal but for the asset: smaller
    ]
    // Sorted: c1 (2,0) #0, c2 (4,0) asset 1 #1, c2 asset 2 #2, c1 (5,3) 7 #3, c1 (5,3) 9 #4, c1 (5,5) #5.
    expect(short(expand('upstream', records, leaves))).toEqual([
      ['c1', 2, -pos(5, 3), 3],
      ['c2', 2, -pos(4, 0), 1],
    ])
  })

  it('both directions: a seed label reaches every transfer, whatever its position', () => {
    const records = [{ peer: 'd1', block: 0, txIndex: 0 }, { peer: 'd2', block: 0xffffffff, txIndex: 0xffff }]
    expect(short(expand('downstream', records, seed('downstream'))).map((c) => c[0])).toEqual(['d1', 'd2'])
    expect(short(expand('upstream', records, seed('upstream'))).map((c) => c[0])).toEqual(['d1', 'd2'])
  })
})

describe('dust floors at, one below and one above their value', () => {
  // One transfer per neighbour: e1..e3 ETH at floor-1, floor, floor+1; t1..t3 the token likewise.
  const edges = (block: number): Rec[] => [
    { peer: 'e1', block, txIndex: 1, amount: ETH_FLOOR - 1n },
    { peer: 'e2', block, txIndex: 2, amount: ETH_FLOOR },
    { peer: 'e3', block, txIndex: 3, amount: ETH_FLOOR + 1n },
    { peer: 'f1', block, txIndex: 4, amount: TOKEN_FLOOR - 1n, assetId: TOKEN_ID },
    { peer: 'f2', block, txIndex: 5, amount: TOKEN_FLOOR, assetId: TOKEN_ID },
    { peer: 'f3', block, txIndex: 6, amount: TOKEN_FLOOR + 1n, assetId: TOKEN_ID },
  ]

  for (const direction of ['downstream', 'upstream'] as const) {
    const sign = direction === 'downstream' ? 1 : -1
    it(`${direction}: a transfer at the floor counts, one below does not, one above does (ETH and token floors apart)`, () => {
      expect(short(expand(direction, edges(9), seed(direction), DUST))).toEqual([
        ['e2', 1, sign * pos(9, 2), 1],
        ['e3', 1, sign * pos(9, 3), 2],
        ['f2', 1, sign * pos(9, 5), 4],
        ['f3', 1, sign * pos(9, 6), 5],
      ])
      // Without floors every one of them counts: the floor is what drops e1 and f1.
      expect(short(expand(direction, edges(9), seed(direction))).map((c) => c[0])).toEqual(['e1', 'e2', 'e3', 'f1', 'f2', 'f3'])
      // A floor for the token only leaves ETH alone, and the other way round.
      expect(short(expand(direction, edges(9), seed(direction), [undefined, undefined, undefined, TOKEN_FLOOR])).map((c) => c[0])).toEqual(['e1', 'e2', 'e3', 'f2', 'f3'])
      expect(short(expand(direction, edges(9), seed(direction), [ETH_FLOOR])).map((c) => c[0])).toEqual(['e2', 'e3', 'f1', 'f2', 'f3'])
    })

    it(`${direction}: a transfer below the floor does not hide a usable one at the floor to the same neighbour`, () => {
      // Downstream the earliest counts, upstream the latest: the dust transfer sits where the
      // scan looks first, the floor-sized one behind it.
      const [dustBlock, floorBlock] = direction === 'downstream' ? [3, 4] : [4, 3]
      const records: Rec[] = [
        { peer: 'a1', block: dustBlock, txIndex: 0, amount: TOKEN_FLOOR - 1n, assetId: TOKEN_ID },
        { peer: 'a1', block: floorBlock, txIndex: 0, amount: TOKEN_FLOOR, assetId: TOKEN_ID },
        { peer: 'a2', block: dustBlock, txIndex: 1, amount: ETH_FLOOR - 1n },
        { peer: 'a2', block: floorBlock, txIndex: 1, amount: ETH_FLOOR },
      ]
      const label = [{ hops: 2, cost: direction === 'downstream' ? pos(3, 0) : -pos(4, 1), key: 'k' }]
      // Sorted: (3,0) #0, (3,1) #1, (4,0) #2, (4,1) #3.
      const [g1, g2] = direction === 'downstream' ? [2, 3] : [0, 1]
      expect(short(expand(direction, records, label, DUST))).toEqual([
        ['a1', 3, sign * pos(floorBlock, 0), g1],
        ['a2', 3, sign * pos(floorBlock, 1), g2],
      ])
    })

    it(`${direction}: equal positions to one neighbour, the smaller record below the floor: the one at the floor wins`, () => {
      const records: Rec[] = [
        // Two transfers of one transaction to one address (two calls: sub-indices differ).
        { peer: 'b5', block: 6, txIndex: 2, amount: ETH_FLOOR - 1n, subIndex: 2 }, // smaller record, dust
        { peer: 'b5', block: 6, txIndex: 2, amount: ETH_FLOOR, subIndex: 1 }, // larger record, at the floor
        { peer: 'b6', block: 6, txIndex: 3, amount: TOKEN_FLOOR + 1n, assetId: TOKEN_ID, subIndex: 1 },
        { peer: 'b6', block: 6, txIndex: 3, amount: TOKEN_FLOOR, assetId: TOKEN_ID, subIndex: 2 }, // smaller, at the floor
      ]
      // Sorted: b5 floor-1 #0, b5 floor #1, b6 floor #2, b6 floor+1 #3.
      expect(short(expand(direction, records, seed(direction), DUST))).toEqual([
        ['b5', 1, sign * pos(6, 2), 1],
        ['b6', 1, sign * pos(6, 3), 2],
      ])
    })
  }

  it('upstream: in-records keep amounts saturated at 2^64-1, so the largest floor config accepts still passes a larger amount', () => {
    const top = (1n << 64n) - 1n
    const records: Rec[] = [
      { peer: 'd5', block: 1, txIndex: 0, amount: 1n << 70n, assetId: TOKEN_ID },
      { peer: 'd6', block: 1, txIndex: 1, amount: top - 1n, assetId: TOKEN_ID },
    ]
    expect(short(expand('upstream', records, seed('upstream'), [undefined, undefined, undefined, top])).map((c) => c[0])).toEqual(['d5'])
    expect(short(expand('downstream', records, seed('downstream'), [undefined, undefined, undefined, top])).map((c) => c[0])).toEqual(['d5'])
  })
})
