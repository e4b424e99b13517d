/**
 * `exposure check --source rpc|etherscan` from the CLI: on a store holding only seeds and labels
 * (no walk, or a lazy walk of one direction), every address of a real anvil chain is screened on
 * demand through the node's per-address lookups or the fake Etherscan server built from that
 * chain; the hops equal the in-process reference over the chain's etl export and every witness is
 * a valid path. `check` without --source keeps today's answers (the walk's labels only).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportEtl } from '../../src/sources/export-etl.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, type RandomChain } from '../support/chain.ts'
import { runCli } from '../support/cli.ts'
import type { EtlRows } from '../support/etl-rows.ts'
import { startFakeEtherscan, type FakeEtherscan } from '../support/fake-etherscan.ts'
import { prepareWitnessChecker, referenceExposure, type ReferenceOptions, type WitnessStep } from '../support/reference-walk.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { readEtlRows } from '../support/store-compare.ts'

const API_KEY = 'on-demand-test-key-5f4dcc3b5aa765d6'
let anvil: AnvilInstance
let server: TestRedis
let chain: RandomChain
let rows: EtlRows
let listed: Address[]
let dir: string
let fake: FakeEtherscan
let expected: Map<string, { downstream: number | null; upstream: number | null }>
let witness: ReturnType<typeof prepareWitnessChecker>

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  dir = await mkdtemp(join(tmpdir(), 'check-on-demand-'))
  chain = await buildRandomChain(anvil.url, { seed: 53, blocks: 14, txPerBlock: 10, addresses: 30 })
  listed = [chain.contracts.token as Address]
  const etl = join(dir, 'etl')
  await exportEtl({ rpcUrl: anvil.url, fromBlock: 0, toBlock: chain.lastBlock, dir: etl })
  rows = await readEtlRows(etl)
  await writeFile(join(dir, 'seeds.csv'), ['address,label,source', ...chain.seeds.map((s, i) => `${s},Seed ${i},on-demand test`)].join('\n') + '\n')
  await writeFile(join(dir, 'labels.csv'), ['address,label,category', ...chain.labels.map((l) => `${l.address},${l.label},${l.category}`)].join('\n') + '\n')
  const options: ReferenceOptions = { maxHops: 4, listedTokens: listed, counterpartyCap: 1000 }
  const ref = referenceExposure(rows, chain.seeds, chain.labels, options)
  expected = new Map([...ref].map(([a, h]) => [a, { downstream: h.downstream, upstream: h.upstream }]))
  witness = prepareWitnessChecker(rows, chain.seeds, chain.labels, options)
  fake = await startFakeEtherscan(rows, { apiKey: API_KEY, rate: 1000, notokRate: 0.05, seed: 5, head: chain.lastBlock })
}, 90_000)

afterAll(async () => {
  await fake?.stop()
  await Promise.all([anvil?.stop(), server?.stop()])
  await rm(dir, { recursive: true, force: true })
})

async function seededStore(name: string): Promise<Record<string, string>> {
  const env = { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix(name), EXPOSURE_ASSETS: listed.join(','), EXPOSURE_CONFIRMATIONS: '0' }
  for (const args of [['seeds', 'import', join(dir, 'seeds.csv')], ['labels', 'import', join(dir, 'labels.csv')]]) {
    const r = await runCli(args, env)
    expect(r.code, r.stderr).toBe(0)
  }
  return env
}

interface Answer {
  address: string
  risk: string
  downstream: { hops: number; seed: string; path: WitnessStep[]; seedInfo: unknown } | null
  upstream: { hops: number; seed: string; path: WitnessStep[]; seedInfo: unknown } | null
  finalBlock: number | null
  answeredBy?: { downstream: string; upstream: string }
}

/** Screens every address of the chain; checks hops, witnesses and the finality line; answers the answeredBy counts. */
async function screen(args: string[], env: Record<string, string>): Promise<{ walk: number; search: number; stderr: string }> {
  const addresses = [...expected.keys()]
  const r = await runCli(['check', '--json', ...args, ...addresses], env)
  expect(r.code, r.stderr).toBe(0)
  const results = JSON.parse(r.stdout) as Answer[]
  expect(results).toHaveLength(addresses.length)
  const problems: string[] = []
  const by = { walk: 0, search: 0 }
  results.forEach((result, i) => {
    const address = addresses[i]!
    expect(Object.keys(result).slice(0, 5)).toEqual(['address', 'risk', 'downstream', 'upstream', 'finalBlock'])
    if (result.finalBlock !== chain.lastBlock) problems.push(`${address}: finalBlock ${result.finalBlock}`)
    for (const direction of ['downstream', 'upstream'] as const) {
      const got = result[direction]
      const want = expected.get(address)![direction]
      by[result.answeredBy![direction] as 'walk' | 'search']++
      if ((got?.hops ?? null) !== want) problems.push(`${address} ${direction}: check ${got?.hops ?? null}, reference ${want}`)
      if (got) {
        const why = witness(got.path, direction, address, got.hops)
        if (why !== null) problems.push(`${address} ${direction} witness: ${why}`)
        if (got.hops > 0 && got.seedInfo === null) problems.push(`${address} ${direction}: no seedInfo`)
      }
    }
  })
  expect(problems).toEqual([])
  return { ...by, stderr: r.stderr }
}

function reached(direction: 'downstream' | 'upstream'): number {
  return [...expected.values()].filter((h) => h[direction] !== null && h[direction]! > 0).length
}

describe('exposure check --source rpc|etherscan (on-demand screening)', () => {
  it('the reference is not trivial', () => {
    expect(reached('downstream')).toBeGreaterThan(8)
    expect(reached('upstream')).toBeGreaterThan(3)
  })

  it('--source rpc with no walk: every address searched on demand equals the reference; plain check refuses to answer without a walk', async () => {
    const env = await seededStore('rpc-none')
    // Without a walk a plain check has no answers: it says so instead of answering 'none'.
    const plain = await runCli(['check', '--json', chain.seeds[0]!, ...[...expected.keys()].slice(0, 5)], env)
    expect(plain.code).toBe(1)
    expect(plain.stdout).toBe('')
    expect(plain.stderr).toMatch(/no complete walk/)
    const got = await screen(['--source', 'rpc', '--rpc-url', anvil.url], env)
    expect(got.walk).toBe(0)
    expect(got.search).toBe(expected.size * 2)
    expect(got.stderr).toMatch(/histories fetched/)
    // A second screening reads the histories already in the store: nothing fetched again.
    const again = await screen(['--source', 'rpc', '--rpc-url', anvil.url], env)
    expect(again.stderr).toContain('(0 histories fetched')
  })

  it('--source rpc after a lazy rpc walk of the downstream direction: downstream from the walk, upstream searched', async () => {
    const env = await seededStore('rpc-down')
    const trace = await runCli(['trace', '--source', 'rpc', '--rpc-url', anvil.url, '--direction', 'downstream', '--json'], env)
    expect(trace.code, trace.stderr).toBe(0)
    const got = await screen(['--source', 'rpc', '--rpc-url', anvil.url], env)
    expect(got.walk).toBe(expected.size)
    expect(got.search).toBe(expected.size)
    // The fetched histories are the walk's own source and range: plain check does not call it stale.
    const plain = await runCli(['check', chain.seeds[0]!], env)
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stderr).not.toContain('imported after')
  })

  it('--source etherscan with no walk (paged API, NOTOK bodies retried): equals the reference', async () => {
    const env = await seededStore('es-none')
    const got = await screen(['--source', 'etherscan'], { ...env, ETHERSCAN_URL: fake.url, ETHERSCAN_API_KEY: API_KEY, ETHERSCAN_RATE: '200', EXPOSURE_CHAIN_ID: '31337' })
    expect(got.search).toBe(expected.size * 2)
    expect(got.stderr).not.toContain(API_KEY)
  })

  it('names the missing setting of a source with exit 2', async () => {
    const env = await seededStore('bad')
    const noKey = await runCli(['check', '--source', 'etherscan', chain.seeds[0]!], { ...env, ETHERSCAN_URL: fake.url, ETHERSCAN_API_KEY: undefined })
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain('ETHERSCAN_API_KEY')
    const badSource = await runCli(['check', '--source', 'bigquery', chain.seeds[0]!], env)
    expect(badSource.code).toBe(2)
  })
})
