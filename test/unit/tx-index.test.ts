/**
 * The per-block transaction maps of the token join (store/tx-index.ts): merging entries and looking
 * a hash up, against a plain reference (entries as hex strings, sorted as strings, grouped by
 * prefix) on random maps where prefixes collide on purpose (a stored map merged with new entries,
 * the same transaction imported twice, two transactions sharing a prefix).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AMBIGUOUS, lookupTx, mergeTxEntries, TX_ENTRY, txEntry } from '../../src/store/tx-index.ts'

/** The reference merge: group by prefix; one index, or ambiguous when the group holds several. */
function referenceMerge(parts: readonly Buffer[]): Map<string, number> {
  const groups = new Map<string, Set<number>>()
  for (const part of parts) {
    for (let o = 0; o + TX_ENTRY <= part.length; o += TX_ENTRY) {
      const prefix = part.toString('hex', o, o + 8)
      const set = groups.get(prefix) ?? new Set<number>()
      set.add(part.readUInt16BE(o + 8))
      groups.set(prefix, set)
    }
  }
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([prefix, set]) => [prefix, set.size === 1 ? [...set][0]! : AMBIGUOUS]))
}

// Few distinct prefix bytes, so that prefixes collide and differ in every position, including
// the high bit of each u32 half (where signed arithmetic would sort wrongly).
const prefixByte = fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff)
const prefix8 = fc.array(prefixByte, { minLength: 8, maxLength: 8 })
// Entries draw their prefix from a small pool, so that groups of entries share one.
const entry = fc.tuple(fc.array(prefix8, { minLength: 1, maxLength: 6 }), fc.nat(), fc.constantFrom(0, 1, 2, 500, 0xfffe)).map(([pool, pick, index]) => ({ prefix: pool[pick % pool.length]!, index }))
const entries = (max: number) =>
  fc.tuple(fc.array(prefix8, { minLength: 1, maxLength: 6 }), fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 1, 2, 500, 0xfffe)), { maxLength: max })).map(([pool, picks]) => picks.map(([pick, index]) => ({ prefix: pool[pick % pool.length]!, index })))
const hashOf = (prefix: readonly number[]) => `0x${Buffer.from(prefix).toString('hex')}${'ab'.repeat(24)}`

describe('transaction maps', () => {
  it('merge equals the reference: sorted by prefix, one entry each, ambiguous when indexes differ', () => {
    fc.assert(
      fc.property(entries(60), fc.array(fc.nat(3), { maxLength: 60 }), (list, partOf) => {
        // The entries spread over up to 4 parts (a stored map and new entries from several jobs).
        const partsSpec: (typeof list)[] = [[], [], [], []]
        list.forEach((e, i) => partsSpec[partOf[i] ?? 0]!.push(e))
        const parts = partsSpec.map((l) => Buffer.concat(l.map((e) => txEntry(hashOf(e.prefix), e.index))))
        const merged = mergeTxEntries(parts)
        const expected = referenceMerge(parts)
        const got = new Map<string, number>()
        for (let o = 0; o < merged.length; o += TX_ENTRY) got.set(merged.toString('hex', o, o + 8), merged.readUInt16BE(o + 8))
        expect([...got]).toEqual([...expected])
        // Merging the result again (a stored map met again) changes nothing.
        expect(mergeTxEntries([merged]).equals(merged)).toBe(true)
        for (const [prefix, index] of expected) expect(lookupTx(merged, `0x${prefix}${'cd'.repeat(24)}`)).toBe(index === AMBIGUOUS ? 'ambiguous' : index)
      }),
      { numRuns: 300 },
    )
  })

  it('lookup of a hash whose prefix is not in the map is undefined, wherever it would sort', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), prefix8, (list, wanted) => {
        const map = mergeTxEntries([Buffer.concat(list.map((e) => txEntry(hashOf(e.prefix), e.index)))])
        const present = list.some((e) => Buffer.from(e.prefix).equals(Buffer.from(wanted)))
        if (!present) expect(lookupTx(map, hashOf(wanted))).toBeUndefined()
      }),
      { numRuns: 300 },
    )
    expect(lookupTx(mergeTxEntries([txEntry(hashOf([0, 0, 0, 0, 0, 0, 0, 0]), 3)]), '0xnothex')).toBeUndefined()
  })
})
