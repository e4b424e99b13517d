/**
 * Resilience of the JSON-RPC source: a fault-injecting proxy in front of a real anvil (429s,
 * 5xx, malformed JSON, timeouts and dropped connections on 20% of requests) changes neither the
 * synced store nor the export nor the walk's answer. Plus the client's retry rules against tiny
 * local servers: Retry-After honoured, the circuit breaker stops hammering a dead node, pruned
 * history is a clear non-retryable error.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportEtl } from '../../src/sources/export-etl.ts'
import { createRpcClient } from '../../src/sources/rpc/client.ts'
import { runSync } from '../../src/sources/rpc/sync.ts'
import { isExposureError } from '../../src/errors.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, type RandomChain } from '../support/chain.ts'
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { adjacencySnapshot, judgeWalk, readEtlRows } from '../support/store-compare.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let proxy: FaultProxy
let chain: RandomChain
let dir: string
let listed: Address[]

const FAULTY_RPC = { timeoutMs: 400, backoffMs: 10, maxBackoffMs: 200, maxAttempts: 25, breakerThreshold: 8, breakerCooldownMs: 50, maxBatch: 4 }

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  dir = await mkdtemp(join(tmpdir(), 'rpc-faults-'))
  chain = await buildRandomChain(anvil.url, { seed: 23, blocks: 24, txPerBlock: 10 })
  listed = [chain.contracts.token as Address]
  proxy = await startFaultProxy(anvil.url, { rate: 0.2, seed: 5, timeoutHoldMs: 1_000 })
}, 60_000)

afterAll(async () => {
  redis?.disconnect()
  await proxy?.stop()
  await Promise.all([anvil?.stop(), server?.stop()])
  await rm(dir, { recursive: true, force: true })
})

describe('a node behind a proxy that fails 20% of requests', () => {
  it('syncs the same store, exports the same files, and the walk gives the same answer', async () => {
    const clean = createGraphStore(redis, testPrefix('clean'))
    const faulty = createGraphStore(redis, testPrefix('faulty'))
    const base = { redisUrl: server.url, listedTokens: listed, fromBlock: 0, toBlock: chain.lastBlock, confirmations: 0, rangeSize: 2, workers: 2, concurrency: 2 }
    await runSync(clean, { ...base, rpcUrl: anvil.url })
    // Capability detection must see the real node: probe it through the proxy only once it is up.
    const summary = await runSync(faulty, { ...base, rpcUrl: proxy.url, rpc: FAULTY_RPC })
    expect(summary.finalThrough).toBe(chain.lastBlock)
    expect(summary.rpc.retries).toBeGreaterThan(0)
    const a = await adjacencySnapshot(redis, clean.keys.prefix)
    expect(a.size).toBeGreaterThan(30)
    expect(await adjacencySnapshot(redis, faulty.keys.prefix)).toEqual(a)

    await exportEtl({ rpcUrl: anvil.url, fromBlock: 0, toBlock: chain.lastBlock, dir: join(dir, 'clean') })
    await exportEtl({ rpcUrl: proxy.url, fromBlock: 0, toBlock: chain.lastBlock, dir: join(dir, 'faulty'), chunk: 2, rpc: FAULTY_RPC })
    // The proxy did fail about a fifth of the requests, with every kind of fault.
    const injected = Object.values(proxy.injected).reduce((a, b) => a + b, 0)
    expect(injected).toBeGreaterThan(0.1 * (injected + proxy.forwarded))
    for (const kind of ['429', '500', '503', 'malformed', 'timeout', 'drop'] as const) expect(proxy.injected[kind], kind).toBeGreaterThan(0)
    for (const file of ['transactions.csv', 'traces.csv', 'token_transfers.csv']) {
      expect(await readFile(join(dir, 'faulty', file), 'utf8'), file).toBe(await readFile(join(dir, 'clean', file), 'utf8'))
    }

    const rows = await readEtlRows(join(dir, 'clean'))
    const cleanWalk = await judgeWalk(clean, server.url, rows, chain.seeds, chain.labels, listed)
    const faultyWalk = await judgeWalk(faulty, server.url, rows, chain.seeds, chain.labels, listed)
    expect(cleanWalk.problems).toEqual([])
    expect(faultyWalk.problems).toEqual([])
    expect(faultyWalk.hops).toEqual(cleanWalk.hops)
    expect(cleanWalk.reached.downstream).toBeGreaterThan(5)
  })
})

describe('retry rules of the JSON-RPC client', () => {
  const servers: Server[] = []
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections()
      await new Promise((resolve) => s.close(resolve))
    }
  })
  async function serve(handler: (n: number, res: import('node:http').ServerResponse, body: string) => void): Promise<{ url: string; count: () => number }> {
    let n = 0
    const s = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => handler(++n, res, body))
    })
    servers.push(s)
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
    return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, count: () => n }
  }
  const ok = (res: import('node:http').ServerResponse, body: string) => {
    const { id } = JSON.parse(body) as { id: number }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: '0x2a' }))
  }

  it('honours Retry-After on a 429', async () => {
    const s = await serve((n, res, body) => (n === 1 ? res.writeHead(429, { 'retry-after': '1' }).end() : ok(res, body)))
    const client = createRpcClient({ url: s.url, backoffMs: 1 })
    const started = Date.now()
    expect(await client.call('eth_blockNumber')).toBe('0x2a')
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
    expect(client.stats.faults['http-429']).toBe(1)
  })

  it('opens the circuit breaker on a dead node and gives up with RPC_UNAVAILABLE', async () => {
    const s = await serve((_n, res) => res.writeHead(503).end())
    const client = createRpcClient({ url: s.url, backoffMs: 1, maxBackoffMs: 2, maxAttempts: 6, breakerThreshold: 3, breakerCooldownMs: 300 })
    const started = Date.now()
    const error = await client.call('eth_blockNumber').catch((e: unknown) => e)
    expect(isExposureError(error, 'RPC_UNAVAILABLE')).toBe(true)
    expect(client.stats.breakerOpened).toBeGreaterThanOrEqual(1)
    // Six attempts with millisecond backoff would take ~10 ms: the open breaker held them back.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290)
    expect(s.count()).toBe(6)
  })

  it('reports pruned history at once, without retrying', async () => {
    const s = await serve((_n, res, body) => {
      const { id } = JSON.parse(body) as { id: number }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32000, message: 'missing trie node 0xabc (path )' } }))
    })
    const client = createRpcClient({ url: s.url, backoffMs: 1 })
    const error = await client.call('trace_block', ['0x1']).catch((e: unknown) => e)
    expect(isExposureError(error, 'RPC_PRUNED')).toBe(true)
    expect(s.count()).toBe(1)
  })
})
