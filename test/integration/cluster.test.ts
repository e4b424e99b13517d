/**
 * The store on a real Redis Cluster (3 masters + 3 replicas started from Debian's redis-server by
 * the harness): the CLI contract — import (plain and through ingest jobs), seeds, labels, trace,
 * a second import and an incremental walk, check, status — gives the same answers on the cluster
 * as on a single server, command for command.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.ts'
import { TOKEN_COLUMNS, TRACE_COLUMNS, TX_COLUMNS, toCsv } from '../support/etl-rows.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { generateEtl } from '../support/random-etl.ts'
import { startRedisCluster, type TestCluster } from '../support/redis-cluster.ts'
import { testPrefix } from '../support/redis-server.ts'

const h = useRedisAndTempDir('cluster')
let cluster: TestCluster
let first: string
let second: string
let seedsFile: string
let labelsFile: string
let addressesFile: string

beforeAll(async () => {
  cluster = await startRedisCluster()
  const rows = generateEtl(31, { addresses: 60, transactions: 200, blocks: 40 })
  // Two imports: the first half of the blocks, then the rest (with the token transfers and traces).
  const cut = rows.transactions[Math.floor(rows.transactions.length / 2)]!.block_number
  first = join(h.dir, 'first')
  second = join(h.dir, 'second')
  await mkdir(first, { recursive: true })
  await mkdir(second, { recursive: true })
  await writeFile(join(first, 'transactions.csv'), toCsv(rows.transactions.filter((t) => Number(t.block_number) < Number(cut)), TX_COLUMNS))
  await writeFile(join(second, 'transactions.csv'), toCsv(rows.transactions.filter((t) => Number(t.block_number) >= Number(cut)), TX_COLUMNS))
  await writeFile(join(second, 'traces.csv'), toCsv(rows.traces, TRACE_COLUMNS))
  await writeFile(join(second, 'token_transfers.csv'), toCsv(rows.tokenTransfers, TOKEN_COLUMNS))
  seedsFile = join(h.dir, 'seeds.csv')
  await writeFile(seedsFile, `address,label,source\n${rows.seeds.map((s, i) => `${s},seed ${i},cluster test`).join('\n')}\n`)
  labelsFile = join(h.dir, 'labels.csv')
  await writeFile(labelsFile, `address,label,category\n${rows.labels.filter((l) => l.category !== 'individual').map((l) => `${l.address},${l.label},${l.category}`).join('\n')}\n`)
  const addresses = new Set<string>()
  for (const t of rows.transactions) for (const a of [t.from_address, t.to_address]) if (a) addresses.add(a)
  addressesFile = join(h.dir, 'addresses.txt')
  await writeFile(addressesFile, [...addresses].join('\n') + '\n')
}, 60_000)

afterAll(async () => {
  await cluster?.stop()
})

/** Runs a command on the single server or on the cluster; fails the test on a non-zero exit. */
async function on(target: 'server' | 'cluster', prefix: string, args: string[]): Promise<string> {
  const env = target === 'server' ? { REDIS_URL: h.server.url } : { REDIS_CLUSTER_NODES: cluster.nodes.join(',') }
  const result = await runCli(['--prefix', prefix, ...args], env)
  expect(result.code, `${target}: exposure ${args.join(' ')}\n${result.stderr}`).toBe(0)
  return result.stdout
}

/** check --json of every address, without what names the run (ids and times differ by design). */
async function answers(target: 'server' | 'cluster', prefix: string): Promise<unknown[]> {
  const list = JSON.parse(await on(target, prefix, ['check', '--file', addressesFile, '--json'])) as Record<string, unknown>[]
  return list.map(({ walk: _walk, ...rest }) => rest)
}

describe('a store on a Redis Cluster', () => {
  it('answers as on a single server: import, seeds, labels, trace, a second import, an incremental walk, check', async () => {
    const prefixes = { server: testPrefix('one'), cluster: testPrefix('many') }
    const steps: string[][] = [
      ['import', first],
      ['seeds', 'import', seedsFile],
      ['labels', 'import', labelsFile],
      ['trace'],
    ]
    const results: Record<'server' | 'cluster', unknown[][]> = { server: [], cluster: [] }
    for (const target of ['server', 'cluster'] as const) {
      for (const step of steps) await on(target, prefixes[target], step)
      results[target].push(await answers(target, prefixes[target]))
      await on(target, prefixes[target], ['import', second])
      const trace = await on(target, prefixes[target], ['trace'])
      expect(trace).toMatch(/incremental|full/)
      results[target].push(await answers(target, prefixes[target]))
    }
    expect(results.cluster[0]!.length).toBeGreaterThan(50)
    expect(results.cluster[0]!.some((a) => (a as { downstream: unknown }).downstream !== null)).toBe(true)
    expect(results.cluster).toEqual(results.server)
    const status = JSON.parse(await on('cluster', prefixes.cluster, ['status', '--json'])) as { store: { transfers: number } }
    const single = JSON.parse(await on('server', prefixes.server, ['status', '--json'])) as { store: { transfers: number } }
    expect(status.store.transfers).toBe(single.store.transfers)
  }, 180_000)

  it('imports through ingest jobs on the cluster as a plain import does on one server', async () => {
    const prefixes = { server: testPrefix('plain'), cluster: testPrefix('jobs') }
    await on('server', prefixes.server, ['import', first, second])
    await on('cluster', prefixes.cluster, ['import', first, second, '--ingest-workers', '2'])
    for (const target of ['server', 'cluster'] as const) {
      await on(target, prefixes[target], ['seeds', 'import', seedsFile])
      await on(target, prefixes[target], ['trace'])
    }
    expect(await answers('cluster', prefixes.cluster)).toEqual(await answers('server', prefixes.server))
  }, 120_000)
})
