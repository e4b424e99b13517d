/**
 * The partitioned key layout (src/store/partitions.ts, keys.ts): partition tags, the node glob
 * against a real redis-server (braces are literal in globs; other stores' keys never match), and
 * the multi-address reads grouped by partition.
 */
import { describe, expect, it } from 'vitest'
import { storeKeys } from '../../src/store/keys.ts'
import { bucketOfBlock, groupByPartition, partitionOfBlock, hmgetByPartition, mgetBufferByPartition, partitionGlob, partitionOfHex, partitionTag, PARTITIONS, storeGlobs } from '../../src/store/partitions.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

const harness = useRedisAndTempDir('partitions')

describe('partitions', () => {
  it('an address is in the partition of its first byte, under a tag derived from the prefix', () => {
    expect(PARTITIONS).toBe(256)
    expect(partitionOfHex('00ff')).toBe(0)
    expect(partitionOfHex('3fab')).toBe(0x3f)
    expect(partitionOfHex('ff00')).toBe(255)
    expect(partitionTag('{exposure}', 0x3f)).toBe('{exposure:p3f}')
    expect(partitionTag('{exposure}', 0)).toBe('{exposure:p00}')
    const keys = storeKeys('{exposure}')
    expect(keys.node(`0x3f${'1'.repeat(38)}`)).toBe(`{exposure:p3f}:n:3f${'1'.repeat(38)}`)
    expect(keys.walkLabels('r1', 'downstream', 0xa0)).toBe('{exposure:pa0}:walk:r:r1:downstream:labels')
    expect(keys.walkRunning(1)).toBe('{exposure:p01}:walk:running')
    expect(keys.stagePartition('i1', 0x10)).toBe('{exposure:p10}:stage:i1:p:16')
    expect(keys.journal('i1', '16.3')).toBe('{exposure:p10}:journal:i1:16.3')
    expect(keys.journal('i1', 'x.0')).toBe('{exposure}:journal:i1:x.0')
    expect(keys.journal('i1', 'parts')).toBe('{exposure}:journal:i1:parts')
    expect(keys.meta).toBe('{exposure}:meta')
  })

  it('per-block state is under the partition of its bucket: 1,024 blocks per bucket, consecutive buckets on consecutive partitions', () => {
    const keys = storeKeys('{exposure}')
    expect(bucketOfBlock(1023)).toBe(0)
    expect(bucketOfBlock(1024)).toBe(1)
    expect(keys.txIndex(0)).toBe('{exposure:p00}:txi:0')
    expect(keys.txIndex(1023)).toBe('{exposure:p00}:txi:0')
    expect(keys.pendingTokens(1024)).toBe('{exposure:p01}:ptok:1')
    // Mainnet's block 21,000,000 is in bucket 20,507, partition 20,507 mod 256 = 0x1b.
    expect(keys.blockTime(21_000_000)).toBe('{exposure:p1b}:bt:20507')
    expect(partitionOfBlock(21_000_000)).toBe(0x1b)
    expect(keys.stageBlocks('i1', 0x1b)).toBe('{exposure:p1b}:stage:i1:b')
    expect(keys.journal('i1', '27.x0')).toBe('{exposure:p1b}:journal:i1:27.x0')
    // A chain's blocks spread evenly: 21 M blocks put 80 or 81 buckets on each partition.
    const perPartition = new Array<number>(PARTITIONS).fill(0)
    for (let bucket = 0; bucket <= bucketOfBlock(21_000_000); bucket++) perPartition[partitionOfBlock(bucket * 1024)]!++
    expect(Math.min(...perPartition)).toBe(80)
    expect(Math.max(...perPartition)).toBe(81)
  })

  it('the node glob matches every partition of the store and nothing of another store', async () => {
    const redis = harness.redis
    const prefix = testPrefix('glob')
    const keys = storeKeys(prefix)
    const other = storeKeys(`${prefix.slice(0, -1)}x}`)
    const hexes = ['00', '3f', 'a0', 'ff'].map((b) => `${b}${'2'.repeat(38)}`)
    for (const hex of hexes) {
      await redis.set(keys.node(`0x${hex}`), hex)
      await redis.set(other.node(`0x${hex}`), 'other')
    }
    await redis.set(`${keys.partition(3)}:walk:running`, 'r')
    expect((await redis.keys(keys.nodePattern)).sort()).toEqual(hexes.map((h) => keys.node(`0x${h}`)).sort())
    expect(keys.nodePattern.startsWith(partitionGlob(prefix))).toBe(true)
    const all = (await Promise.all(storeGlobs(prefix).map((g) => redis.keys(g)))).flat()
    expect(all.sort()).toEqual([...hexes.map((h) => keys.node(`0x${h}`)), `${keys.partition(3)}:walk:running`].sort())
  })

  it('grouped reads answer in the order asked, whatever the partitions', async () => {
    const redis = harness.redis
    const keys = storeKeys(testPrefix('group'))
    const hexes = ['ff', '00', 'ff', '7a', '00'].map((b, i) => `${b}${String(i).repeat(38)}`)
    expect([...groupByPartition(hexes)]).toEqual([[255, [0, 2]], [0, [1, 4]], [0x7a, [3]]])
    for (const hex of hexes.slice(0, 4)) {
      await redis.set(keys.node(`0x${hex}`), `node ${hex}`)
      await redis.hset(keys.walkLabels('r', 'upstream', partitionOfHex(hex)), hex, `label ${hex}`)
    }
    expect(await hmgetByPartition(redis, (p) => keys.walkLabels('r', 'upstream', p), hexes)).toEqual([...hexes.slice(0, 4).map((h) => `label ${h}`), null])
    expect((await mgetBufferByPartition(redis, (h) => keys.node(`0x${h}`), hexes)).map((b) => b?.toString() ?? null)).toEqual([...hexes.slice(0, 4).map((h) => `node ${h}`), null])
    expect(await hmgetByPartition(redis, (p) => keys.walkLabels('r', 'upstream', p), [])).toEqual([])
  })
})
