/**
 * Lazy walks from the CLI: `exposure trace --source rpc|etherscan` on a store holding only seeds
 * and labels fetches each expanded address's history (the node's per-address lookups on a real
 * anvil; the fake Etherscan server built from that chain) and gives the in-process reference's
 * hops over the chain's etl export, with in-process workers and with a separate
 * `exposure worker` process (which reads the source choice from the walk meta and its URLs and
 * API key from its own environment). The summary says which blocks the answers cover.
 */
import { storeGlobs } from '../../src/store/partitions.ts'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportEtl } from '../../src/sources/export-etl.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, type RandomChain } from '../support/chain.ts'
import { BIN, runCli } from '../support/cli.ts'
import type { EtlRows } from '../support/etl-rows.ts'
import { startFakeEtherscan, type FakeEtherscan } from '../support/fake-etherscan.ts'
import { referenceExposure } from '../support/reference-walk.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { readEtlRows } from '../support/store-compare.ts'

const API_KEY = 'cli-test-key-d41d8cd98f00b204'
let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let rows: EtlRows
let listed: Address[]
let dir: string
let fake: FakeEtherscan
let expected: Map<string, { downstream: number | null; upstream: number | null }>

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  dir = await mkdtemp(join(tmpdir(), 'lazy-cli-'))
  chain = await buildRandomChain(anvil.url, { seed: 41, blocks: 14, txPerBlock: 10, addresses: 30 })
  listed = [chain.contracts.token as Address]
  const etl = join(dir, 'etl')
  await exportEtl({ rpcUrl: anvil.url, fromBlock: 0, toBlock: chain.lastBlock, dir: etl })
  rows = await readEtlRows(etl)
  await writeFile(join(dir, 'seeds.csv'), ['address,label,source', ...chain.seeds.map((s, i) => `${s},Seed ${i},lazy cli test`)].join('\n') + '\n')
  await writeFile(join(dir, 'labels.csv'), ['address,label,category', ...chain.labels.map((l) => `${l.address},${l.label},${l.category}`)].join('\n') + '\n')
  const ref = referenceExposure(rows, chain.seeds, chain.labels, { maxHops: 4, listedTokens: listed, counterpartyCap: 1000 })
  expected = new Map([...ref].map(([a, h]) => [a, { downstream: h.downstream, upstream: h.upstream }]))
  fake = await startFakeEtherscan(rows, { apiKey: API_KEY, rate: 1000, notokRate: 0.05, seed: 3, head: chain.lastBlock })
}, 90_000)

afterAll(async () => {
  redis?.disconnect()
  await fake?.stop()
  await Promise.all([anvil?.stop(), server?.stop()])
  await rm(dir, { recursive: true, force: true })
})

/** A store with seeds and labels only: every transfer must come from the lazy source. */
async function seededStore(name: string): Promise<{ prefix: string; env: Record<string, string> }> {
  const prefix = testPrefix(name)
  const env = { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_ASSETS: listed.join(','), EXPOSURE_CONFIRMATIONS: '0' }
  const seeds = await runCli(['seeds', 'import', join(dir, 'seeds.csv')], env)
  expect(seeds.code, seeds.stderr).toBe(0)
  const labels = await runCli(['labels', 'import', join(dir, 'labels.csv')], env)
  expect(labels.code, labels.stderr).toBe(0)
  return { prefix, env }
}

async function answers(env: Record<string, string>, finalBlock?: number | null): Promise<Map<string, { downstream: number | null; upstream: number | null }>> {
  const check = await runCli(['check', '--json', ...expected.keys()], env)
  expect(check.code, check.stderr).toBe(0)
  const results = JSON.parse(check.stdout) as { address: string; downstream: { hops: number; path: unknown[] } | null; upstream: { hops: number; path: unknown[] } | null; finalBlock: number | null }[]
  if (finalBlock !== undefined) for (const r of results) expect(r.finalBlock, r.address).toBe(finalBlock)
  for (const r of results) {
    if (r.downstream && r.downstream.hops > 0) expect(r.downstream.path).toHaveLength(r.downstream.hops)
    if (r.upstream && r.upstream.hops > 0) expect(r.upstream.path).toHaveLength(r.upstream.hops)
  }
  return new Map(results.map((r) => [r.address.toLowerCase(), { downstream: r.downstream?.hops ?? null, upstream: r.upstream?.hops ?? null }]))
}

function reached(map: Map<string, { downstream: number | null; upstream: number | null }>) {
  return [...map.values()].filter((h) => h.downstream !== null && h.downstream > 0).length
}

describe('exposure trace --source (lazy per-address history)', () => {
  it('the reference is not trivial', () => {
    expect(reached(expected)).toBeGreaterThan(8)
  })

  it('--source store on a store without transfers is refused (a walk over nothing never completes); the lazy sources need no transfers', async () => {
    const { env } = await seededStore('empty')
    const trace = await runCli(['trace', '--json'], env)
    expect(trace.code).toBe(1)
    expect(trace.stderr).toMatch(/holds no transfers/)
    const status = JSON.parse((await runCli(['status', '--json'], env)).stdout) as { walk: unknown }
    expect(status.walk).toBe(null)
  })

  it('--source store after `exposure sync --to-block`: answers final up to the synced block (check --json, status)', async () => {
    const { env } = await seededStore('synced')
    const to = chain.lastBlock - 3
    const sync = await runCli(['sync', '--from-block', '0', '--to-block', String(to), '--rpc-url', anvil.url, '--json'], env)
    expect(sync.code, sync.stderr).toBe(0)
    const trace = await runCli(['trace', '--json'], env)
    expect(trace.code, trace.stderr).toBe(0)
    expect(JSON.parse(trace.stdout).coverage).toMatchObject({ source: 'store', throughBlock: to })
    const got = await answers(env, to)
    expect(reached(got)).toBeGreaterThan(5)
    const status = await runCli(['status', '--json'], env)
    expect(JSON.parse(status.stdout).walk.finalBlock).toBe(to)
  })

  it('--source rpc with in-process workers: the reference\'s hops, coverage through the final block', async () => {
    const { env } = await seededStore('rpc')
    const trace = await runCli(['trace', '--source', 'rpc', '--rpc-url', anvil.url, '--json'], env)
    expect(trace.code, trace.stderr).toBe(0)
    const summary = JSON.parse(trace.stdout)
    expect(summary.coverage).toMatchObject({ source: 'rpc', throughBlock: chain.lastBlock })
    expect(summary.lazy.addressesFetched).toBeGreaterThan(5)
    expect(summary.lazy.requests).toBeGreaterThan(summary.lazy.addressesFetched)
    expect(await answers(env, chain.lastBlock)).toEqual(expected)
    const status = await runCli(['status'], env)
    expect(status.stdout).toMatch(new RegExp(`answers final up to\\s*│?\\s*block ${chain.lastBlock}`))
    // No "imported after the last walk" warning: the fetched histories are the walk's own input.
    const check = await runCli(['check', chain.seeds[0]!], env)
    expect(check.stderr).not.toContain('imported after')
    // The human summary names the range.
    const again = await runCli(['trace', '--source', 'rpc', '--rpc-url', anvil.url], env)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`answers cover blocks 0-${chain.lastBlock}`)
    expect(again.stdout).toMatch(/lazy rpc history: 0 addresses fetched/) // every history was covered already
  })

  it('--source etherscan --no-workers with a separate `exposure worker`: the reference\'s hops; the API key is in no job or meta', async () => {
    const { prefix, env } = await seededStore('es')
    const worker: ChildProcess = spawn(process.execPath, [BIN, 'worker', '--queues', 'walk'], {
      env: { ...process.env, ...env, ETHERSCAN_URL: fake.url, ETHERSCAN_API_KEY: API_KEY, ETHERSCAN_RATE: '200', EXPOSURE_CHAIN_ID: '31337' } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    worker.stderr!.on('data', (d) => (stderr += d))
    const okBefore = fake.counts.ok + fake.counts.empty
    try {
      // The coordinator needs the URL (for the head) and a key of its own configuration.
      const trace = await runCli(['trace', '--source', 'etherscan', '--no-workers', '--json'], { ...env, ETHERSCAN_URL: fake.url, ETHERSCAN_API_KEY: API_KEY, ETHERSCAN_RATE: '200', EXPOSURE_CHAIN_ID: '31337' })
      expect(trace.code, `${trace.stderr}\n${stderr}`).toBe(0)
      const summary = JSON.parse(trace.stdout)
      expect(summary.coverage).toMatchObject({ source: 'etherscan', throughBlock: chain.lastBlock })
      expect(summary.lazy.addressesFetched).toBe(0) // the worker process did the fetching
    } finally {
      const exited = new Promise((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal })))
      worker.kill('SIGTERM')
      expect(await exited).toEqual({ code: 0, signal: null })
    }
    expect(fake.counts.ok + fake.counts.empty - okBefore).toBeGreaterThan(10)
    expect(stderr).not.toContain(API_KEY)
    expect(await answers(env, chain.lastBlock)).toEqual(expected)
    // Nothing under the store's prefix holds the key (walk meta, job data, lazy cursors).
    let cursor = '0'
    let scanned = 0
    for (const glob of storeGlobs(prefix)) do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', glob, 'COUNT', 1000)
      cursor = next
      for (const key of keys) {
        const type = await redis.type(key)
        const values = type === 'hash' ? await redis.hvals(key) : type === 'string' ? [(await redis.get(key)) ?? ''] : type === 'list' ? await redis.lrange(key, 0, -1) : []
        scanned++
        for (const v of values) expect(v, key).not.toContain(API_KEY)
      }
    } while (cursor !== '0')
    expect(scanned).toBeGreaterThan(10)
  })

  it('names the missing setting of a source with exit 2 before writing anything', async () => {
    const { env } = await seededStore('bad')
    const noKey = await runCli(['trace', '--source', 'etherscan'], { ...env, ETHERSCAN_URL: fake.url, ETHERSCAN_API_KEY: undefined })
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain('ETHERSCAN_API_KEY')
    const noNode = await runCli(['trace', '--source', 'rpc'], { ...env, RPC_URL: undefined })
    expect(noNode.code).toBe(2)
    expect(noNode.stderr).toContain('RPC_URL')
  })
})
