/**
 * One answer for one chain, across sources fetched lazily as the walk expands addresses:
 * the Etherscan-compatible API (a local server speaking its documented shapes, its data built from
 * a real anvil chain, with rate limits and NOTOK bodies) and the node's per-address lookups
 * (trace_filter, trace_transaction, eth_getLogs by topic) give the same hops and valid witness
 * paths as the in-process reference over the chain's etl export and as the block sync.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEtherscanClient } from '../../src/sources/etherscan/client.ts'
import { createEtherscanSource } from '../../src/sources/etherscan/source.ts'
import { exportEtl } from '../../src/sources/export-etl.ts'
import { createLazyHistory } from '../../src/sources/lazy-history.ts'
import { createRpcAddressSource } from '../../src/sources/rpc/address-history.ts'
import { createRpcClient } from '../../src/sources/rpc/client.ts'
import { createOtsAddressSource } from '../../src/sources/rpc/ots-history.ts'
import { runSync } from '../../src/sources/rpc/sync.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, type RandomChain } from '../support/chain.ts'
import type { EtlRows } from '../support/etl-rows.ts'
import { startFakeEtherscan, type FakeEtherscan } from '../support/fake-etherscan.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { judgeWalk, readEtlRows, type WalkJudgement } from '../support/store-compare.ts'

const API_KEY = 'test-key-not-secret'
let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let rows: EtlRows
let listed: Address[]
let dir: string
let synced: WalkJudgement

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  dir = await mkdtemp(join(tmpdir(), 'etherscan-'))
  chain = await buildRandomChain(anvil.url, { seed: 31, blocks: 16, txPerBlock: 10, addresses: 30 })
  listed = [chain.contracts.token as Address]
  await exportEtl({ rpcUrl: anvil.url, fromBlock: 0, toBlock: chain.lastBlock, dir })
  rows = await readEtlRows(dir)
  const store = createGraphStore(redis, testPrefix('sync'))
  await runSync(store, { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, fromBlock: 0, toBlock: chain.lastBlock, confirmations: 0, rangeSize: 10, workers: 1 })
  synced = await judgeWalk(store, server.url, rows, chain.seeds, chain.labels, listed)
}, 60_000)

afterAll(async () => {
  redis?.disconnect()
  await Promise.all([anvil?.stop(), server?.stop()])
  await rm(dir, { recursive: true, force: true })
})

describe('lazy per-address sources give the block sync\'s answer', () => {
  it('the block sync itself equals the reference (the judge is not trivial)', () => {
    expect(synced.problems).toEqual([])
    expect(synced.reached.downstream).toBeGreaterThan(8)
    expect(synced.reached.upstream).toBeGreaterThan(3)
  })

  it('Etherscan API (paged, rate-limited by BullMQ, NOTOK retried): same hops, valid witnesses, each history fetched once', async () => {
    const fake = await startFakeEtherscan(rows, { apiKey: API_KEY, rate: 1000, notokRate: 0.1, seed: 9, head: chain.lastBlock })
    const store = createGraphStore(redis, testPrefix('es'))
    const rate = 25
    const client = createEtherscanClient({ baseUrl: fake.url, apiKey: API_KEY, chainId: 31337, rate, redisUrl: server.url, prefix: store.keys.prefix, pageSize: 7 })
    try {
      const lazy = createLazyHistory(store, createEtherscanSource(client, listed), { throughBlock: chain.lastBlock, listedTokens: listed })
      const started = Date.now()
      const judged = await judgeWalk(store, server.url, rows, chain.seeds, chain.labels, listed, 4, { beforeExpand: (a) => lazy.ensure(a) })
      const seconds = (Date.now() - started) / 1000
      expect(judged.problems).toEqual([])
      expect(judged.hops).toEqual(synced.hops)
      expect(fake.counts.notok).toBeGreaterThan(0)
      expect(fake.counts.ok).toBeGreaterThan(20) // full pages of 7 were continued by block
      // BullMQ's limiter held the calls at the configured rate.
      expect(client.stats.calls).toBeLessThanOrEqual(rate * (seconds + 1))
      expect(fake.counts.rateLimited).toBe(0)
      // A second walk finds every history covered: no new account calls.
      const calls = client.stats.calls
      const again = await judgeWalk(store, server.url, rows, chain.seeds, chain.labels, listed, 4, { beforeExpand: (a) => lazy.ensure(a) })
      expect(again.hops).toEqual(synced.hops)
      expect(client.stats.calls).toBe(calls)
    } finally {
      await client.close()
      await fake.stop()
    }
  })

  it('"Max rate limit reached" bodies are retried until answered', async () => {
    const fake = await startFakeEtherscan(rows, { apiKey: API_KEY, rate: 3, head: chain.lastBlock })
    const store = createGraphStore(redis, testPrefix('es-limited'))
    const client = createEtherscanClient({ baseUrl: fake.url, apiKey: API_KEY, chainId: 31337, rate: 20, redisUrl: server.url, prefix: store.keys.prefix })
    try {
      const seed = chain.seeds[0]!
      const records = await Promise.all([1, 2, 3, 4, 5, 6].map(() => client.accountRecords('txlist', seed, 0, chain.lastBlock)))
      expect(fake.counts.rateLimited).toBeGreaterThan(0)
      const expected = rows.transactions.filter((t) => t.from_address === seed || t.to_address === seed).length
      expect(expected).toBeGreaterThan(3)
      for (const list of records) expect(list).toHaveLength(expected)
    } finally {
      await client.close()
      await fake.stop()
    }
  })

  it('node per-address lookups (trace_filter, trace_transaction, getLogs by topic): same hops', async () => {
    const store = createGraphStore(redis, testPrefix('addr'))
    const client = createRpcClient({ url: anvil.url })
    const source = createRpcAddressSource(client, listed)
    const lazy = createLazyHistory(store, source, { throughBlock: chain.lastBlock, listedTokens: listed })
    const judged = await judgeWalk(store, server.url, rows, chain.seeds, chain.labels, listed, 4, { beforeExpand: (a) => lazy.ensure(a) })
    expect(judged.problems).toEqual([])
    expect(judged.hops).toEqual(synced.hops)
    expect(lazy.fetched()).toBeGreaterThan(5)
  })

  it('node Otterscan lookups (ots_searchTransactionsBefore paged, traces per block, getLogs by topic): same hops', async () => {
    const store = createGraphStore(redis, testPrefix('ots'))
    const client = createRpcClient({ url: anvil.url })
    // A small page forces paging (and re-reading a block a page ended inside); a block holds at most 10 transactions.
    const source = createOtsAddressSource(client, listed, { pageSize: 12 })
    const lazy = createLazyHistory(store, source, { throughBlock: chain.lastBlock, listedTokens: listed })
    const judged = await judgeWalk(store, server.url, rows, chain.seeds, chain.labels, listed, 4, { beforeExpand: (a) => lazy.ensure(a) })
    expect(judged.problems).toEqual([])
    expect(judged.hops).toEqual(synced.hops)
    expect(lazy.fetched()).toBeGreaterThan(5)
    expect(client.stats.calls).toBeGreaterThan(lazy.fetched() * 3)
  })
})
