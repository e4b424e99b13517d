/**
 * Every walk records its source in the walk meta: a walk without a lazy-history hook (seed
 * changes' incremental walks, the demo, library callers) records 'store', so that a separate
 * `exposure worker` never fetches for it with the source an earlier lazy walk left there, and
 * `check --source` never takes its labels for a lazy walk's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { runWalk } from '../../src/walk/run-walk.ts'
import { DEFAULT_STOP_CATEGORIES } from '../support/reference-walk.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

let server: TestRedis
let redis: Redis

beforeAll(async () => {
  server = await startRedis()
  redis = await connectRedis(server.url)
})

afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
})

describe('walk source in the walk meta', () => {
  it('a walk records its caller\'s source choice with its basis; a walk without one records the store', async () => {
    const store = createGraphStore(redis, testPrefix('ws'))
    await store.putSeeds([{ address: '0x00000000000000000000000000000000000000a1', label: 'seed', source: 'test' }])
    const options = { redisUrl: server.url, directions: ['downstream' as const], maxHops: 2, batchSize: 4, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: 1000, dust: {}, workers: 1, concurrency: 1 }
    const lazy = { name: 'rpc' as const, throughBlock: 99, assets: '0x00000000000000000000000000000000000000b2', method: 'trace_filter' }
    await runWalk(store, { ...options, beforeExpand: async () => undefined, source: lazy })
    expect(await redis.hmget(store.keys.walkCurrent, 'source', 'sourceThrough', 'sourceAssets', 'sourceMethod')).toEqual(['rpc', '99', lazy.assets, 'trace_filter'])
    // A store walk needs transfers: give it one.
    const ids = await store.internAssets(['ETH'])
    await store.stage('one', [{ from: '0x00000000000000000000000000000000000000a1', to: '0x00000000000000000000000000000000000000c3', amount: 10n ** 18n, asset: 'ETH', blockNumber: 5, transactionIndex: 0, txHash: `0x${'11'.repeat(32)}`, kind: 'tx', subIndex: 0 }], ids)
    await store.commit('one')
    await runWalk(store, options)
    expect(await redis.hmget(store.keys.walkCurrent, 'source', 'sourceThrough', 'sourceAssets', 'sourceMethod')).toEqual(['store', '', '', ''])
  })
})
