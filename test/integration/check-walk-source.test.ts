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
  it('a walk without a hook records source store over what an earlier lazy walk left; one with a hook keeps its caller\'s choice', async () => {
    const store = createGraphStore(redis, testPrefix('ws'))
    await store.putSeeds([{ address: '0x00000000000000000000000000000000000000a1', label: 'seed', source: 'test' }])
    const stale = { source: 'rpc', sourceThrough: '99', sourceAssets: '0x00000000000000000000000000000000000000b2', sourceMethod: 'trace_filter' }
    await redis.hset(store.keys.walkMeta, stale)
    const options = { redisUrl: server.url, directions: ['downstream'] as const, maxHops: 2, batchSize: 4, stopCategories: DEFAULT_STOP_CATEGORIES, counterpartyCap: 1000, dust: {}, workers: 1, concurrency: 1 }
    await runWalk(store, { ...options, directions: [...options.directions], beforeExpand: async () => undefined })
    expect(await redis.hmget(store.keys.walkMeta, 'source', 'sourceThrough', 'sourceMethod')).toEqual(['rpc', '99', 'trace_filter'])
    await runWalk(store, { ...options, directions: [...options.directions] })
    expect(await redis.hmget(store.keys.walkMeta, 'source', 'sourceThrough', 'sourceAssets', 'sourceMethod')).toEqual(['store', '', '', ''])
  })
})
