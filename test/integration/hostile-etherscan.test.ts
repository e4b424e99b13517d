/**
 * The Etherscan-compatible source against hostile servers (a real redis-server for BullMQ): a
 * server that repeats one full page forever, rate-limits forever, or answers HTML pages ends with
 * an error naming that cause (within the call's deadline; no timed assertions: without the
 * deadline the call would outlast the hang guard); records past the requested end block are
 * never used (nor stored by the lazy history, whatever a source returns); the queue's events
 * stream stays short and holds no answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isExposureError, type BaseError } from '../../src/errors.ts'
import { createEtherscanClient, type EtherscanClient, type EtherscanOptions } from '../../src/sources/etherscan/client.ts'
import { createEtherscanSource } from '../../src/sources/etherscan/source.ts'
import type { RetryEvent } from '../../src/sources/rpc/client.ts'
import type { Address } from '../../src/types.ts'
import type { EtlRows } from '../support/etl-rows.ts'
import { madeUpTx, startFakeEtherscan, type FakeEtherscan, type FakeEtherscanOptions } from '../support/fake-etherscan.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { createLazyHistory, type AddressHistorySource } from '../../src/sources/lazy-history.ts'
import { ETH, type Transfer } from '../../src/types.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'

const API_KEY = 'hostile-key-0123456789abcdef'
const ADDRESS = '0x00000000000000000000000000000000000a0042' as Address
const NO_ROWS: EtlRows = { transactions: [], traces: [], tokenTransfers: [] }
let server: TestRedis
let redis: Redis
const opened: { client: EtherscanClient; fake: FakeEtherscan }[] = []

beforeAll(async () => {
  server = await startRedis()
  redis = await connectRedis(server.url)
})

afterAll(async () => {
  for (const { client, fake } of opened) {
    await client.close()
    await fake.stop()
  }
  redis?.disconnect()
  await server?.stop()
})

async function open(fakeOptions: Partial<FakeEtherscanOptions>, clientOptions: Partial<EtherscanOptions> = {}): Promise<{ client: EtherscanClient; fake: FakeEtherscan; retries: RetryEvent[]; prefix: string }> {
  const fake = await startFakeEtherscan(NO_ROWS, { apiKey: API_KEY, rate: 10_000, head: 5_000, ...fakeOptions })
  const retries: RetryEvent[] = []
  const prefix = testPrefix('es')
  const client = createEtherscanClient({ baseUrl: fake.url, apiKey: API_KEY, chainId: 1, rate: 200, redisUrl: server.url, prefix, deadlineMs: 2_000, timeoutMs: 500, backoffMs: 20, maxBackoffMs: 200, attempts: 1_000, onRetry: (e) => retries.push(e), ...clientOptions })
  opened.push({ client, fake })
  return { client, fake, retries, prefix }
}

async function rejection(promise: Promise<unknown>): Promise<BaseError> {
  const error = await promise.then(
    () => {
      throw new Error('the call did not fail')
    },
    (e: unknown) => e,
  )
  expect(isExposureError(error)).toBe(true)
  const e = error as BaseError
  expect(e.message).not.toContain(API_KEY)
  return e
}

describe('hostile Etherscan-compatible servers end with the real cause', () => {
  it('the same full page forever: paging that does not advance fails at once (RPC_ERROR)', async () => {
    const { client, fake } = await open({ misbehave: 'same-page' }, { pageSize: 5 })
    const error = await rejection(client.accountRecords('txlist', ADDRESS, 0, 4_000))
    expect(error.code).toBe('RPC_ERROR')
    expect(error.shortMessage).toMatch(/paging does not advance: a full page from block 5 ends at block 5/)
    expect(error.shortMessage).toContain(ADDRESS)
    expect(fake.counts.ok).toBe(2)
  }, 20_000)

  it('"Max rate limit reached" forever: RPC_RATE_LIMITED "rate-limited for N s" by the deadline, with progress', async () => {
    const { client, fake, retries } = await open({ misbehave: 'rate-limit' })
    const error = await rejection(client.accountRecords('txlist', ADDRESS, 0, 4_000))
    expect(error.code).toBe('RPC_RATE_LIMITED')
    expect(error.shortMessage).toMatch(/^Etherscan txlist at http:\/\/127\.0\.0\.1:\d+ failed after .* \(deadline 2 s, \d+ attempts\): rate-limited for \d+(\.\d)? s \("Max rate limit reached"\)/)
    expect(fake.counts.rateLimited).toBeGreaterThan(1)
    expect(retries.length).toBeGreaterThan(0)
    expect(retries[0]).toMatchObject({ method: 'txlist', attempt: 1, fault: 'rate-limited', deadlineMs: 2_000 })
  }, 20_000)

  it('an HTML page: RPC_UNAVAILABLE naming it, the API key not echoed', async () => {
    const { client } = await open({ misbehave: 'html' })
    const error = await rejection(client.accountRecords('tokentx', ADDRESS, 0, 4_000))
    expect(error.code).toBe('RPC_UNAVAILABLE')
    expect(error.shortMessage).toMatch(/an HTML page instead of JSON \(HTTP 200, title "Service Temporarily Unavailable"\)/)
  }, 20_000)

  it('the API\'s head through the proxy module: the same bounded failure', async () => {
    const { client } = await open({ misbehave: 'html' })
    const error = await rejection(client.blockNumber())
    expect(error.code).toBe('RPC_UNAVAILABLE')
    expect(error.shortMessage).toMatch(/eth_blockNumber .*an HTML page instead of JSON/)
  }, 20_000)
})

describe('records past the requested end block are never used', () => {
  it('a server ignoring endblock: the source returns only transfers up to toBlock', async () => {
    const sender = '0x00000000000000000000000000000000000f0001'
    const { client } = await open({ ignoreEndBlock: true, extra: { txlist: [madeUpTx(ADDRESS, 500, sender), madeUpTx(ADDRESS, 2_000, sender)] } })
    const records = await client.accountRecords('txlist', ADDRESS, 0, 1_000)
    expect(records.map((r) => r['blockNumber'])).toEqual(['500'])
    const transfers = await createEtherscanSource(client, []).fetch(ADDRESS, 0, 1_000)
    expect(transfers.map((t) => t.blockNumber)).toEqual([500])
  }, 20_000)
})

describe('the lazy history', () => {
  it('stores no transfer past its final block, whatever a source returns', async () => {
    const transfer = (block: number): Transfer => ({ from: '0x00000000000000000000000000000000000f0001' as Address, to: ADDRESS, amount: 10n ** 18n, asset: ETH, blockNumber: block, transactionIndex: 0, txHash: `0x${block.toString(16).padStart(64, '0')}`, kind: 'tx', subIndex: 0 })
    const stub = (blocks: number[]): AddressHistorySource => ({ name: 'stub', requests: () => 0, fetch: async () => blocks.map(transfer) })
    const past = createGraphStore(redis, testPrefix('past'))
    const within = createGraphStore(redis, testPrefix('within'))
    await createLazyHistory(past, stub([500, 2_000]), { throughBlock: 1_000, listedTokens: [] }).ensure([ADDRESS])
    await createLazyHistory(within, stub([500]), { throughBlock: 1_000, listedTokens: [] }).ensure([ADDRESS])
    const expected = await adjacencySnapshot(redis, within.keys.prefix)
    expect(expected.size).toBeGreaterThan(0)
    expect(await adjacencySnapshot(redis, past.keys.prefix)).toEqual(expected)
  })
})

describe('BullMQ events stream', () => {
  it('stays near eventsMaxLen and carries no answer; answers of jobs served by another process\'s worker come back too', async () => {
    const records = Array.from({ length: 40 }, (_, i) => madeUpTx(ADDRESS, 10 + i))
    // Generous timeouts: 150 calls at once share this one process with the server.
    const { client: a, fake, prefix } = await open({ extra: { txlist: records } }, { eventsMaxLen: 50, rate: 1_000, timeoutMs: 10_000, deadlineMs: 30_000 })
    const calls = 150
    const lists = await Promise.all(Array.from({ length: calls }, (_, i) => a.accountRecords('txlist', ADDRESS, 10 + (i % 20), 1_000)))
    lists.forEach((list, i) => expect(list).toHaveLength(40 - (i % 20)))
    const stream = `${prefix}:q:${a.queueName}:events`
    const length = await redis.xlen(stream)
    // ~4 events per call, 600 in all: trimmed (approximately: Redis trims whole stream nodes).
    expect(length).toBeLessThan(300)
    const entries = await redis.xrange(stream, '-', '+')
    const returned = entries.flatMap(([, fields]) => fields.flatMap((f, i) => (i % 2 === 0 && f === 'returnvalue' ? [fields[i + 1]!] : [])))
    expect(returned.length).toBeGreaterThan(0)
    for (const value of returned) expect(['"local"', '"redis"']).toContain(value)
    // A second client on the same key and store: the same queue; with a's worker paused, b's
    // serves a's jobs, and hands the answers over through Redis, deleted once read.
    const b = createEtherscanClient({ baseUrl: fake.url, apiKey: API_KEY, chainId: 1, rate: 1_000, redisUrl: server.url, prefix, eventsMaxLen: 50 })
    opened.push({ client: b, fake })
    await a.worker.pause()
    const served = b.stats.calls
    expect(await a.accountRecords('txlist', ADDRESS, 0, 1_000)).toHaveLength(40)
    expect(b.stats.calls).toBe(served + 1)
    a.worker.resume()
    expect(await redis.keys(`${prefix}:q:${a.queueName}:answer:*`)).toEqual([])
  }, 60_000)
})
