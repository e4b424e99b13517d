/**
 * The block-range arithmetic of the sync's coverage (src/sources/rpc/ingest.ts), and the same
 * arithmetic in its Lua scripts against a real redis-server: merging, subtracting, the gaps a
 * sync reads, and "final through" (the end of the first range).
 */
import { describe, expect, it } from 'vitest'
import { addCoverage, finalThrough, mergeRanges, readCoverage, subtractCoverage, subtractRanges, syncKeys, type BlockRange } from '../../src/sources/rpc/ingest.ts'
import { prng } from '../support/chain.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

const r = (from: number, to: number): BlockRange => ({ from, to })

describe('block ranges', () => {
  it('merges overlapping and adjacent ranges, keeps gaps', () => {
    expect(mergeRanges([r(10, 19), r(0, 4), r(5, 9), r(30, 40), r(35, 36)])).toEqual([r(0, 19), r(30, 40)])
    expect(mergeRanges([r(3, 2)])).toEqual([])
  })

  it('subtracts what is covered: the gaps a sync reads', () => {
    expect(subtractRanges(r(0, 99), [r(10, 19), r(50, 200)])).toEqual([r(0, 9), r(20, 49)])
    expect(subtractRanges(r(0, 9), [r(0, 9)])).toEqual([])
    expect(subtractRanges(r(5, 9), [])).toEqual([r(5, 9)])
    expect(subtractRanges(r(300, 629), [r(0, 299)])).toEqual([r(300, 629)])
  })

  it('final through is the end of the first range', () => {
    expect(finalThrough([r(0, 99), r(300, 629)])).toBe(99)
    expect(finalThrough([])).toBeNull()
  })
})

describe('coverage scripts', () => {
  const h = useRedisAndTempDir('sync-ranges')

  it('add and subtract in Redis agree with a set of blocks (random operations)', async () => {
    const random = prng(77)
    for (let trial = 0; trial < 20; trial++) {
      const keys = syncKeys(testPrefix('cov'))
      const blocks = new Set<number>()
      for (let op = 0; op < 25; op++) {
        const from = Math.floor(random() * 60)
        const to = from + Math.floor(random() * 12)
        if (random() < 0.7) {
          await addCoverage(h.redis, keys, r(from, to))
          for (let b = from; b <= to; b++) blocks.add(b)
        } else {
          await subtractCoverage(h.redis, keys, r(from, to))
          for (let b = from; b <= to; b++) blocks.delete(b)
        }
        const expected = mergeRanges([...blocks].map((b) => r(b, b)))
        expect(await readCoverage(h.redis, keys)).toEqual(expected)
        const cursor = await h.redis.get(keys.cursor)
        expect(cursor === null ? null : Number(cursor)).toBe(finalThrough(expected))
      }
    }
  })
})
