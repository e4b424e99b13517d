/**
 * The store on a real Redis Cluster (3 masters + 3 replicas started from Debian's redis-server by
 * the harness): the CLI contract — import (plain and through ingest jobs), seeds, labels, trace,
 * a second import and an incremental walk, check, status — gives the same answers on the cluster
 * as on a single server, command for command. A master SIGKILLed in the middle of a walk (its
 * replica promoted): the walk notices the failover, starts again, and publishes answers equal to a
 * clean run's. A master failing over while an import is staged: the import is refused before its
 * commit point and leaves nothing; run again, it equals the single server's. The partitioned layout
 * (keys.ts) spreads the node strings over all three masters.
 */
import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Cluster, Redis } from 'ioredis'
import slotOf from 'cluster-key-slot'
import { BIN, runCli } from '../support/cli.ts'
import { TOKEN_COLUMNS, TRACE_COLUMNS, TX_COLUMNS, toCsv } from '../support/etl-rows.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { generateEtl } from '../support/random-etl.ts'
import { startRedisCluster, type TestCluster } from '../support/redis-cluster.ts'
import { testPrefix } from '../support/redis-server.ts'
import { storeKeys } from '../../src/store/keys.ts'
import { PARTITIONS, partitionGlob } from '../../src/store/partitions.ts'

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
    const status = JSON.parse(await on('cluster', prefixes.cluster, ['status', '--json'])) as { store: { transfers: number }; redis: { masters?: { node: string; keys: number; tags: number }[] } }
    expect(status.redis.masters?.map((m) => m.node).sort()).toEqual(await cluster.masters())
    const single = JSON.parse(await on('server', prefixes.server, ['status', '--json'])) as { store: { transfers: number } }
    expect(status.store.transfers).toBe(single.store.transfers)
  }, 180_000)

  it('on a cluster whose slots follow exposure cluster-slots, each master holds its planned share of the partition tags, and answers are one server\'s; status notes a cluster whose tags fall unevenly', async () => {
    const prefix = testPrefix('planned')
    const plan = JSON.parse((await runCli(['--prefix', prefix, 'cluster-slots', '--masters', '5', '--json'], {})).stdout) as { planned: { first: number; last: number; tags: number }[] }
    const tags = plan.planned.map((r) => r.tags)
    expect(tags.reduce((a, b) => a + b, 0)).toBe(PARTITIONS)
    expect(Math.max(...tags) - Math.min(...tags)).toBeLessThanOrEqual(2)
    const planned = await startRedisCluster({ masters: 5, replicas: 0, slotRanges: plan.planned.map((r) => [r.first, r.last] as const) })
    try {
      const env = { REDIS_CLUSTER_NODES: planned.nodes.join(',') }
      const run = async (args: string[]) => {
        const result = await runCli(['--prefix', prefix, ...args], env)
        expect(result.code, `exposure ${args.join(' ')}\n${result.stderr}`).toBe(0)
        return result.stdout
      }
      for (const args of [['import', first, second], ['seeds', 'import', seedsFile], ['labels', 'import', labelsFile], ['trace']]) await run(args)
      // status counts the prefix's own tag too, on the master whose range holds its slot.
      const status = JSON.parse(await run(['status', '--json'])) as { redis: { masters: { node: string; tags: number }[] } }
      const globalSlot = slotOf(`${prefix}:meta`)
      const want = plan.planned.map((r) => r.tags + (globalSlot >= r.first && globalSlot <= r.last ? 1 : 0))
      expect(planned.nodes.map((node) => status.redis.masters.find((m) => m.node === node)?.tags)).toEqual(want)
      const list = JSON.parse(await run(['check', '--file', addressesFile, '--json'])) as Record<string, unknown>[]
      const server = testPrefix('planned-server')
      for (const args of [['import', first, second], ['seeds', 'import', seedsFile], ['labels', 'import', labelsFile], ['trace']]) await on('server', server, args)
      expect(list.map(({ walk: _walk, ...rest }) => rest)).toEqual(await answers('server', server))
      // Planned ranges: status notes nothing about the spread.
      expect((await runCli(['--prefix', prefix, 'status'], env)).stderr).not.toMatch(/unevenly/)
    } finally {
      await planned.stop()
    }
    // Ranges as one might assign them by hand, three quarters of the slots to one master: status
    // says the busiest master holds far more than its share of the tags.
    const uneven = await startRedisCluster({ masters: 2, replicas: 0, slotRanges: [[0, 12_287], [12_288, 16_383]] })
    try {
      const status = await runCli(['--prefix', prefix, 'status'], { REDIS_CLUSTER_NODES: uneven.nodes.join(',') })
      expect(status.code, status.stderr).toBe(0)
      expect(status.stderr).toMatch(/hash tags fall unevenly on the 2 masters: the busiest holds \d+ \(1\.\d\d× the mean\).*exposure cluster-slots --masters 2/)
    } finally {
      await uneven.stop()
    }
  }, 180_000)

  it('exposure migrate brings a format 3 store on the cluster to format 4 in place: per-block state leaves the prefix\'s master, answers stay', async () => {
    const prefix = testPrefix('migrate')
    // The second folder's token transfers first: they wait for their transactions (ptok).
    for (const step of [['import', join(second, 'token_transfers.csv')], ['import', first], ['seeds', 'import', seedsFile], ['trace']]) await on('cluster', prefix, step)
    const before = await answers('cluster', prefix)
    const client = new Cluster(cluster.nodes.map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })))
    client.on('error', () => undefined)
    try {
      // Format 3's layout: the per-block hashes under the prefix's tag (block times in one hash).
      let moved = 0
      for (const [family, old] of [['txi', 'txi'], ['ptok', 'ptok'], ['bt', 'blocktime']] as const) {
        for (const key of (await keysPerMaster(`${partitionGlob(prefix)}:${family}:*`)).flat()) {
          const bucket = key.slice(key.lastIndexOf(':') + 1)
          const fields = await client.hgetallBuffer(key)
          await client.hset(family === 'bt' ? `${prefix}:${old}` : `${prefix}:${old}:${bucket}`, fields)
          await client.del(key)
          moved++
        }
      }
      expect(moved).toBeGreaterThan(2)
      expect((await keysPerMaster(`${prefix}:ptok:*`)).flat().length, 'waiting token transfers to move').toBeGreaterThan(0)
      await client.hset(`${prefix}:meta`, 'format', '3')
      const refused = await runCli(['--prefix', prefix, 'check', '--file', addressesFile], { REDIS_CLUSTER_NODES: cluster.nodes.join(',') })
      expect(refused.code).toBe(2)
      expect(refused.stderr).toMatch(/'exposure migrate' brings it to this version in place/)
      expect(await on('cluster', prefix, ['migrate'])).toMatch(/migrated from format 3 to 4/)
      expect([...(await keysPerMaster(`${prefix}:txi:*`)), ...(await keysPerMaster(`${prefix}:ptok:*`)), ...(await keysPerMaster(`${prefix}:blocktime`))].flat()).toEqual([])
      expect(await answers('cluster', prefix)).toEqual(before)
      // The waiting token transfers join their transactions from the migrated store.
      await on('cluster', prefix, ['import', second])
      expect((await keysPerMaster(`${partitionGlob(prefix)}:ptok:*`)).flat()).toEqual([])
    } finally {
      client.disconnect()
    }
  }, 120_000)

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

  it('a master SIGKILLed mid-walk: its replica is promoted, the walk starts again, and its answers equal a clean run', async () => {
    const rows = generateEtl(32, { addresses: 400, transactions: 2500, blocks: 120 })
    const big = join(h.dir, 'big')
    await mkdir(big, { recursive: true })
    // Blocks 1,009 apart (in the same order), so that per-block state fills ~120 buckets of 1,024 blocks.
    const spread = <T extends { block_number: string }>(r: T): T => ({ ...r, block_number: String(Number(r.block_number) * 1009) })
    await writeFile(join(big, 'transactions.csv'), toCsv(rows.transactions.map(spread), TX_COLUMNS))
    await writeFile(join(big, 'traces.csv'), toCsv(rows.traces.map(spread), TRACE_COLUMNS))
    const seeds = join(h.dir, 'big-seeds.csv')
    await writeFile(seeds, `address,label,source\n${rows.seeds.map((a, i) => `${a},seed ${i},failover test`).join('\n')}\n`)
    const everyone = join(h.dir, 'big-addresses.txt')
    await writeFile(everyone, [...new Set(rows.transactions.flatMap((t) => [t.from_address, t.to_address]).filter((a) => a))].join('\n') + '\n')
    const prefixes = { server: testPrefix('clean'), cluster: testPrefix('failover') }
    for (const target of ['server', 'cluster'] as const) {
      await on(target, prefixes[target], ['import', big])
      await on(target, prefixes[target], ['seeds', 'import', seeds])
    }
    await on('server', prefixes.server, ['trace'])
    // The partitioned layout spreads the graph: every master holds a fair share of the node strings
    // (hundreds of addresses over 256 partition tags; which tag lands where depends on the prefix).
    const perMaster = await nodeStringsPerMaster(prefixes.cluster)
    const total = perMaster.reduce((a, b) => a + b, 0)
    expect(perMaster.length).toBe(3)
    expect(total).toBeGreaterThan(300)
    for (const count of perMaster) {
      expect(count / total, `node strings per master: ${perMaster.join(', ')}`).toBeGreaterThanOrEqual(0.25)
      expect(count / total, `node strings per master: ${perMaster.join(', ')}`).toBeLessThanOrEqual(0.42)
    }
    // So is the per-block state (tx index, block times): under the partition tags of the blocks' buckets.
    for (const family of ['txi', 'bt']) {
      const buckets = (await keysPerMaster(`${partitionGlob(prefixes.cluster)}:${family}:*`)).map((keys) => keys.length)
      const sum = buckets.reduce((a, b) => a + b, 0)
      expect(sum, family).toBeGreaterThan(100)
      for (const count of buckets) expect(count / sum, `${family} buckets per master: ${buckets.join(', ')}`).toBeGreaterThanOrEqual(0.2)
    }
    expect((await keysPerMaster(`${prefixes.cluster}:txi:*`)).flat()).toEqual([])
    expect((await keysPerMaster(`${prefixes.cluster}:blocktime`)).flat()).toEqual([])

    // The master of the store's own slot (walk meta, queues): the hardest one to lose.
    const client = new Cluster(cluster.nodes.map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })))
    client.on('error', () => undefined)
    await client.ping()
    const victim = (client.slots[slotOf(`${prefixes.cluster}:meta`)] ?? [])[0]!
    expect(cluster.nodes).toContain(victim)

    // A slow walk (small batches, one worker), so that the kill lands in its middle.
    const trace = spawn(process.execPath, [BIN, '--prefix', prefixes.cluster, 'trace', '--workers', '1', '--concurrency', '1', '--batch-size', '2'], { env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, REDIS_CLUSTER_NODES: cluster.nodes.join(',') } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    trace.stderr!.on('data', (d) => (stderr += d))
    trace.stdout!.resume()
    const exited = new Promise<number | null>((resolve) => trace.once('exit', (code) => resolve(code)))
    // Mid-walk: once the run is running and has labelled some addresses.
    const deadline = Date.now() + 30_000
    for (;;) {
      const [runId, status] = await client.hmget(`${prefixes.cluster}:walk:meta`, 'runId', 'status')
      // The run's labels live in one hash per partition (keys.ts): sum them over the partitions.
      if (runId !== null && runId !== undefined && status === 'running' && (await labelled(client, prefixes.cluster, runId)) > 10) break
      expect(Date.now() < deadline && trace.exitCode === null, `the walk did not start, or ended before the kill: ${stderr}`).toBe(true)
      await new Promise((r) => setTimeout(r, 50))
    }
    client.disconnect()
    await cluster.kill(victim)
    expect(await exited, stderr).toBe(0)
    expect(stderr).toContain('failed over')
    await cluster.waitOk()
    expect(await cluster.masters()).not.toContain(victim)
    const list = async (target: 'server' | 'cluster') => (JSON.parse(await on(target, prefixes[target], ['check', '--file', everyone, '--json'])) as Record<string, unknown>[]).map(({ walk: _walk, ...rest }) => rest)
    const clean = await list('server')
    expect(clean.filter((a) => (a as { downstream: unknown }).downstream !== null).length).toBeGreaterThan(20)
    expect(await list('cluster')).toEqual(clean)
  }, 240_000)

  it('a master failing over while an import is staged: the import is refused before its commit point, nothing of it stays, and a rerun imports it whole', async () => {
    const prefixes = { server: testPrefix('whole'), cluster: testPrefix('cut') }
    await on('server', prefixes.server, ['import', first, second])
    // No worker serves the ingest queue yet: the import waits, staged nothing, its epoch recorded.
    const env = { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, REDIS_CLUSTER_NODES: cluster.nodes.join(',') } as NodeJS.ProcessEnv
    const importing = spawn(process.execPath, [BIN, '--prefix', prefixes.cluster, 'import', first, second, '--ingest-workers', '0'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    importing.stderr!.on('data', (d) => (stderr += d))
    importing.stdout!.resume()
    const exited = new Promise<number | null>((resolve) => importing.once('exit', (code) => resolve(code)))
    const deadline = Date.now() + 30_000
    while (!stderr.includes('no worker serves the etl ingest queue')) {
      expect(Date.now() < deadline && importing.exitCode === null, `the import did not wait for a worker: ${stderr}`).toBe(true)
      await new Promise((r) => setTimeout(r, 100))
    }
    // A master whose replica can take over (the walk test above left one master without one).
    const victim = await masterWithReplica()
    await cluster.kill(victim)
    const promoted = Date.now() + 30_000
    while ((await cluster.masters()).includes(victim) || (await cluster.masters()).length < 3) {
      expect(Date.now() < promoted, 'no replica was promoted').toBe(true)
      await new Promise((r) => setTimeout(r, 200))
    }
    await cluster.waitOk()
    // Now a worker stages the files, and the import reaches its commit point after the failover.
    const worker = spawn(process.execPath, [BIN, '--prefix', prefixes.cluster, 'worker', '--queues', 'ingest'], { env, stdio: ['ignore', 'ignore', 'ignore'] })
    try {
      expect(await exited, stderr).toBe(1)
    } finally {
      worker.kill('SIGTERM')
      await new Promise((resolve) => worker.once('exit', resolve))
    }
    expect(stderr).toMatch(/failed over while import \S+ was being staged/)
    expect(stderr).toContain('nothing of it was committed')
    // Nothing committed, nothing staged, no import left registered.
    const left = await keysOnMasters(`*${prefixes.cluster.replace(/[{}]/g, '')}*`)
    expect(left.filter((k) => /:(n|stage|journal|import):/.test(k) || k === `${prefixes.cluster}:meta`), left.join(', ')).toEqual([])
    expect(left.length, 'the scan sees the store\'s keys (its queue\'s)').toBeGreaterThan(0)
    // Run again: the whole import, as on one server.
    await on('cluster', prefixes.cluster, ['import', first, second])
    for (const target of ['server', 'cluster'] as const) {
      await on(target, prefixes[target], ['seeds', 'import', seedsFile])
      await on(target, prefixes[target], ['trace'])
    }
    expect(await answers('cluster', prefixes.cluster)).toEqual(await answers('server', prefixes.server))
  }, 180_000)
})

/** A live master that has a live replica (CLUSTER NODES of any live node). */
async function masterWithReplica(): Promise<string> {
  for (const node of await cluster.masters()) {
    const redis = new Redis({ host: node.split(':')[0]!, port: Number(node.split(':')[1]), lazyConnect: true })
    redis.on('error', () => undefined)
    try {
      await redis.connect()
      const lines = String(await redis.cluster('NODES')).trim().split('\n').map((l) => l.split(' '))
      const byId = new Map(lines.map((f) => [f[0]!, f]))
      for (const f of lines) {
        const flags = f[2]!.split(',')
        if (!flags.includes('slave') || flags.some((x) => x.startsWith('fail'))) continue
        const master = byId.get(f[3]!)
        if (master && !master[2]!.split(',').some((x) => x.startsWith('fail'))) return master[1]!.split('@')[0]!
      }
    } finally {
      redis.disconnect()
    }
  }
  throw new Error('no master with a live replica')
}

/** Every key matching `pattern` on every master (SCAN on each master's own connection). */
async function keysOnMasters(pattern: string): Promise<string[]> {
  return (await keysPerMaster(pattern)).flat()
}

/** Node strings of a store on each master. */
async function nodeStringsPerMaster(prefix: string): Promise<number[]> {
  return (await keysPerMaster(storeKeys(prefix).nodePattern)).map((keys) => keys.length)
}

/** The keys matching `pattern` of each master, by SCAN on its own connection. */
async function keysPerMaster(pattern: string): Promise<string[][]> {
  return Promise.all(
    (await cluster.masters()).map(async (node) => {
      const redis = new Redis({ host: node.split(':')[0]!, port: Number(node.split(':')[1]), lazyConnect: true })
      redis.on('error', () => undefined)
      try {
        await redis.connect()
        const found: string[] = []
        let cursor = '0'
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000)
          cursor = next
          found.push(...keys)
        } while (cursor !== '0')
        return found
      } finally {
        redis.disconnect()
      }
    }),
  )
}

/** Addresses a running walk has labelled downstream so far, over all partitions. */
async function labelled(client: Cluster, prefix: string, runId: string): Promise<number> {
  const keys = storeKeys(prefix)
  const sizes = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => client.hlen(keys.walkLabels(runId, 'downstream', p)).catch(() => 0)))
  return sizes.reduce((a, b) => a + b, 0)
}
