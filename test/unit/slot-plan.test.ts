import { describe, expect, it } from 'vitest'
import { CLUSTER_SLOTS, equalSlotRanges, partitionTagSlots, rangesSplittingTags, tagsPerRange, type SlotRange } from '../../src/store/slot-plan.ts'
import { PARTITIONS } from '../../src/store/partitions.ts'

function expectCover(ranges: readonly SlotRange[]): void {
  expect(ranges[0]![0]).toBe(0)
  expect(ranges.at(-1)![1]).toBe(CLUSTER_SLOTS - 1)
  ranges.forEach(([first, last], i) => {
    expect(last).toBeGreaterThanOrEqual(first)
    if (i > 0) expect(first).toBe(ranges[i - 1]![1] + 1)
  })
}

describe('partition tags on a cluster’s masters', () => {
  it('splits slots as redis-cli --cluster create does', () => {
    // What `redis-cli --cluster create` prints for 3 masters: Slots 0 - 5460, 5461 - 10922, 10923 - 16383.
    expect(equalSlotRanges(3)).toEqual([[0, 5460], [5461, 10922], [10923, 16383]])
    for (let m = 1; m <= 100; m++) expectCover(equalSlotRanges(m))
  })

  it('finds the uneven spread of equal ranges, and plans ranges that split the tags evenly', () => {
    for (const prefix of ['{exposure}', '{bench}', 'tenant-a']) {
      const slots = partitionTagSlots(prefix)
      expect(slots).toHaveLength(PARTITIONS)
      for (let m = 1; m <= 64; m++) {
        const planned = rangesSplittingTags(slots, m)
        expect(planned).toHaveLength(m)
        expectCover(planned)
        const counts = tagsPerRange(slots, planned)
        expect(counts.reduce((a, b) => a + b, 0)).toBe(PARTITIONS)
        // ⌊n/m⌋ or ⌈n/m⌉, one more where two tags share the slot at a cut
        for (const c of counts) {
          expect(c, `${prefix}, ${m} masters: ${counts}`).toBeGreaterThanOrEqual(Math.floor(PARTITIONS / m) - 1)
          expect(c, `${prefix}, ${m} masters: ${counts}`).toBeLessThanOrEqual(Math.ceil(PARTITIONS / m) + 1)
        }
      }
    }
    // The default prefix at 29 masters (10 B transfers in README's Sizing): equal ranges give the
    // busiest master 14 of the 256 tags; planned ranges at most 9 or 10.
    const slots = partitionTagSlots('{exposure}')
    expect(Math.max(...tagsPerRange(slots, equalSlotRanges(29)))).toBe(14)
    expect(Math.max(...tagsPerRange(slots, rangesSplittingTags(slots, 29)))).toBeLessThanOrEqual(10)
  })

  it('refuses a master count it cannot serve', () => {
    expect(() => equalSlotRanges(0)).toThrow(RangeError)
    expect(() => rangesSplittingTags(partitionTagSlots('{exposure}'), 257)).toThrow(/some masters would hold no partition/)
  })
})
