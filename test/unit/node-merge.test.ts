/**
 * What a commit does to a node it touches (src/store/records.ts): mergeIntoSorted places added
 * records into a stored list by binary search when they are few, and countAfterAdding counts the
 * node's distinct counterparties from the old count instead of over the whole node. Both must
 * give exactly what the plain way gives — sortUnique over everything, countCounterparties over
 * the merged lists — on random lists with repeats, records already stored, self-transfers, and
 * counterparties that share their first four bytes.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IN_SIZE, OUT_SIZE, countAfterAdding, countCounterparties, mergeIntoSorted, sortUnique, writeInRecord, writeOutRecord } from '../../src/store/records.ts'
import type { Address } from '../../src/types.ts'

const SELF = `0x${'5e'.repeat(20)}` as Address
// Counterparties: self, and addresses alike in their first four bytes (the scan's prefilter) or not.
const PEERS = [SELF, `0x${'ab'.repeat(20)}`, `0x${'abababab'}${'01'.repeat(16)}`, `0x${'abababab'}${'02'.repeat(16)}`, `0x${'01'.repeat(20)}`, `0x${'ff'.repeat(20)}`, `0x${'00'.repeat(20)}`] as Address[]
const HASH = `0x${'11'.repeat(32)}` as const

const record = fc.record({ peer: fc.integer({ min: 0, max: PEERS.length - 1 }), block: fc.integer({ min: 0, max: 30 }), index: fc.integer({ min: 0, max: 2 }), amount: fc.integer({ min: 1, max: 3 }), sub: fc.integer({ min: 0, max: 1 }) })
type Rec = { peer: number; block: number; index: number; amount: number; sub: number }

function encode(list: readonly Rec[], size: number): Buffer {
  const buf = Buffer.alloc(list.length * size)
  list.forEach((r, i) => {
    const fields = { counterparty: PEERS[r.peer]!, blockNumber: r.block, transactionIndex: r.index, assetId: 0, amount: BigInt(r.amount), txHash: HASH, kind: 'log' as const, subIndex: r.sub }
    if (size === OUT_SIZE) writeOutRecord(buf, i * size, fields)
    else writeInRecord(buf, i * size, fields)
  })
  return buf
}

describe('merging added records into a node', () => {
  it('mergeIntoSorted equals sortUnique over stored and added records, few added or many', () => {
    expect(mergeIntoSorted(Buffer.alloc(0), encode([{ peer: 1, block: 1, index: 0, amount: 1, sub: 0 }], IN_SIZE), IN_SIZE).length).toBe(IN_SIZE)
    for (const size of [OUT_SIZE, IN_SIZE]) {
      fc.assert(
        fc.property(fc.array(record, { minLength: 600, maxLength: 900 }), fc.array(record, { maxLength: 8 }), fc.array(record, { maxLength: 200 }), (stored, few, many) => {
          const list = sortUnique(encode(stored, size), size)
          for (const added of [encode(few, size), encode(many, size), Buffer.concat([encode(few, size), list.subarray(0, size * 3)])]) {
            expect(mergeIntoSorted(list, added, size).equals(sortUnique(Buffer.concat([list, added]), size))).toBe(true)
          }
        }),
        { numRuns: 200 },
      )
    }
  })

  it('countAfterAdding equals countCounterparties over the merged lists', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 80 }), fc.array(record, { maxLength: 80 }), fc.array(record, { maxLength: 6 }), fc.array(record, { maxLength: 6 }), (oldOut, oldIn, addOut, addIn) => {
        const [out0, in0] = [sortUnique(encode(oldOut, OUT_SIZE), OUT_SIZE), sortUnique(encode(oldIn, IN_SIZE), IN_SIZE)]
        const [addedOut, addedIn] = [encode(addOut, OUT_SIZE), encode(addIn, IN_SIZE)]
        const out1 = mergeIntoSorted(out0, addedOut, OUT_SIZE)
        const in1 = mergeIntoSorted(in0, addedIn, IN_SIZE)
        expect(countAfterAdding(SELF, countCounterparties(SELF, out0, in0), out0, in0, addedOut, addedIn)).toBe(countCounterparties(SELF, out1, in1))
      }),
      { numRuns: 1000 },
    )
  })

  it('a hub of a million records takes a new record without a pass that allocates per record', () => {
    // 1,000,000 distinct senders: countCounterparties over them took seconds per commit.
    const n = 1_000_000
    const stored = Buffer.alloc(n * IN_SIZE)
    for (let i = 0; i < n; i++) {
      stored.writeUInt32BE(1 + Math.floor(i / 1000), i * IN_SIZE)
      stored.writeUInt16BE(i % 1000, i * IN_SIZE + 4)
      stored.writeUInt32BE(i, i * IN_SIZE + 6) // sender: i, then zeros
    }
    const fresh = encode([{ peer: 1, block: 5_000_000, index: 0, amount: 1, sub: 0 }], IN_SIZE)
    const merged = mergeIntoSorted(stored, fresh, IN_SIZE)
    expect(merged.length).toBe(stored.length + IN_SIZE)
    expect(merged.subarray(stored.length).equals(fresh)).toBe(true)
    expect(countAfterAdding(SELF, n, Buffer.alloc(0), stored, Buffer.alloc(0), fresh)).toBe(n + 1)
    // One of the senders again: not new.
    expect(countAfterAdding(SELF, n, Buffer.alloc(0), stored, Buffer.alloc(0), Buffer.from(stored.subarray(500 * IN_SIZE, 501 * IN_SIZE)))).toBe(n)
  })
})
