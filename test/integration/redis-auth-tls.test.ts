/**
 * Redis with a password and TLS, as managed Redis runs it: a throwaway CA and server certificate
 * made by openssl, a TLS-only redis-server with requirepass, and a TLS-only Redis Cluster
 * (3 masters; cluster bus and replication over TLS, requirepass/masterauth) created by
 * `redis-cli --tls --cluster create`. The real CLI, given `rediss://:password@…` (a server's URL or
 * the cluster's node URLs) and the CA (--redis-tls-ca / REDIS_TLS_CA), imports, traces and
 * answers checks exactly as on a plain server; without the CA, with another CA or with a wrong
 * password it stops within seconds with a clear error; a missing CA file is bad configuration.
 * The passwords never show in anything the CLI prints.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, type CliResult } from '../support/cli.ts'
import { TOKEN_COLUMNS, TRACE_COLUMNS, TX_COLUMNS, toCsv } from '../support/etl-rows.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { generateEtl } from '../support/random-etl.ts'
import { startRedisCluster, type TestCluster } from '../support/redis-cluster.ts'
import { freePort, testPrefix } from '../support/redis-server.ts'
import { makeTestTls, startTlsRedis, type TestTls, type TlsRedis } from '../support/redis-tls.ts'
import { startServe } from '../support/serve.ts'

const SERVER_PASSWORD = 'srv-Pa55-7f3k9q'
const CLUSTER_PASSWORD = 'cl-Pa55-x2m8w1'
const PASSWORDS = [SERVER_PASSWORD, CLUSTER_PASSWORD]

const h = useRedisAndTempDir('redis-auth-tls')
let tls: TestTls
let server: TlsRedis
let cluster: TestCluster
let etl: string
let seedsFile: string
let addressesFile: string
/** Every run of the CLI: none may print a password. */
const runs: { what: string; result: CliResult }[] = []

beforeAll(async () => {
  tls = await makeTestTls()
  ;[server, cluster] = await Promise.all([startTlsRedis(tls, SERVER_PASSWORD), startRedisCluster({ masters: 3, replicas: 0, password: CLUSTER_PASSWORD, tls })])
  const rows = generateEtl(41, { addresses: 60, transactions: 200, blocks: 40 })
  etl = join(h.dir, 'etl')
  await mkdir(etl, { recursive: true })
  await writeFile(join(etl, 'transactions.csv'), toCsv(rows.transactions, TX_COLUMNS))
  await writeFile(join(etl, 'traces.csv'), toCsv(rows.traces, TRACE_COLUMNS))
  await writeFile(join(etl, 'token_transfers.csv'), toCsv(rows.tokenTransfers, TOKEN_COLUMNS))
  seedsFile = join(h.dir, 'seeds.csv')
  await writeFile(seedsFile, `address,label,source\n${rows.seeds.map((s, i) => `${s},seed ${i},tls test`).join('\n')}\n`)
  const addresses = new Set<string>()
  for (const t of rows.transactions) for (const a of [t.from_address, t.to_address]) if (a) addresses.add(a)
  addressesFile = join(h.dir, 'addresses.txt')
  await writeFile(addressesFile, [...addresses].join('\n') + '\n')
}, 90_000)

afterAll(async () => {
  await Promise.all([server?.stop(), cluster?.stop()])
  await tls?.remove()
})

type Target = 'plain' | 'tls-server' | 'tls-cluster'

/** How the CLI reaches each store: the plain server by REDIS_URL, the TLS ones by flags (server) and environment (cluster). */
function reach(target: Target): { args: string[]; env: Record<string, string> } {
  if (target === 'plain') return { args: [], env: { REDIS_URL: h.server.url } }
  if (target === 'tls-server') return { args: ['--redis-url', `rediss://:${SERVER_PASSWORD}@127.0.0.1:${server.port}`, '--redis-tls-ca', tls.ca], env: {} }
  return { args: [], env: { REDIS_CLUSTER_NODES: cluster.nodeUrls.join(','), REDIS_TLS_CA: tls.ca } }
}

async function cli(what: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const result = await runCli(args, { REDIS_CLUSTER_NODES: undefined, REDIS_TLS_CA: undefined, ...env })
  runs.push({ what, result })
  return result
}

/** Runs a command on a target; fails the test on a non-zero exit. */
async function on(target: Target, prefix: string, args: string[]): Promise<string> {
  const { args: global, env } = reach(target)
  const result = await cli(`${target}: ${args.join(' ')}`, [...global, '--prefix', prefix, ...args], env)
  expect(result.code, `${target}: exposure ${args.join(' ')}\n${result.stderr}`).toBe(0)
  return result.stdout
}

/** import, seeds, trace, then check --json of every address (without what names the run). */
async function answersAfterWalk(target: Target, prefix: string, importArgs: string[] = []): Promise<unknown[]> {
  await on(target, prefix, ['import', etl, ...importArgs])
  await on(target, prefix, ['seeds', 'import', seedsFile])
  expect(await on(target, prefix, ['trace'])).toMatch(/walk .* complete/)
  const list = JSON.parse(await on(target, prefix, ['check', '--file', addressesFile, '--json'])) as Record<string, unknown>[]
  return list.map(({ walk: _walk, ...rest }) => rest)
}

let reference: unknown[] | undefined
/** A store on the TLS cluster with a published walk (for serve). */
let tracedClusterPrefix: string | undefined
/** The plain server's answers (computed once). */
async function plainAnswers(): Promise<unknown[]> {
  reference ??= await answersAfterWalk('plain', testPrefix('plain'))
  expect(reference.length).toBeGreaterThan(50)
  expect(reference.some((a) => (a as { downstream: unknown }).downstream !== null)).toBe(true)
  return reference
}

/** A run that must fail: its exit code, and its stderr (checked for passwords with the rest). */
async function failing(what: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const result = await cli(what, args, env)
  expect(result.code, `${what}: ${result.stderr}`).not.toBe(0)
  return result
}

describe('Redis with a password and TLS', () => {
  it('a single TLS server with a password and a private CA: import, trace and check answer as on a plain server', async () => {
    const expected = await plainAnswers()
    expect(await answersAfterWalk('tls-server', testPrefix('tls'))).toEqual(expected)
  }, 120_000)

  it('a single TLS server without its CA, with another CA, or with a wrong password: a clear error within seconds, as for an unreachable store', async () => {
    // What the CLI gives for a store it cannot reach (nothing listens on a free port).
    const unreachable = await failing('unreachable', ['--redis-url', `redis://127.0.0.1:${await freePort()}`, 'status'])
    expect(unreachable.stderr).toMatch(/cannot reach Redis/)
    const url = `rediss://:${SERVER_PASSWORD}@127.0.0.1:${server.port}`
    for (const [what, args] of [
      ['no CA', ['--redis-url', url, 'status']],
      ['another CA', ['--redis-url', url, '--redis-tls-ca', tls.otherCa, 'status']],
    ] as const) {
      const result = await failing(what, [...args])
      expect(result.code, what).toBe(unreachable.code)
      expect(result.stderr, what).toMatch(/cannot reach Redis at rediss:\/\/\*\*\*@127\.0\.0\.1:\d+: .*certificate.*--redis-tls-ca/)
      expect(result.ms, what).toBeLessThan(10_000)
    }
    const wrong = await failing('wrong password', ['--redis-url', `rediss://:not-${SERVER_PASSWORD}@127.0.0.1:${server.port}`, '--redis-tls-ca', tls.ca, 'status'])
    expect(wrong.code).toBe(unreachable.code)
    expect(wrong.stderr).toMatch(/WRONGPASS.*password/)
    expect(wrong.stderr).not.toContain(`not-${SERVER_PASSWORD}`)
    expect(wrong.ms).toBeLessThan(10_000)
    // A CA file that is not there is bad configuration (exit 2), naming the file and the field.
    const missing = await failing('missing CA', ['--redis-url', url, '--redis-tls-ca', join(tls.dir, 'no-such-ca.pem'), 'status'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no-such-ca.pem')
    expect(missing.stderr).toMatch(/redisTlsCa.*--redis-tls-ca/)
  }, 60_000)

  it('a TLS Redis Cluster with a password (node URLs and REDIS_TLS_CA): import, trace, check answer as on a plain server; ingest jobs and status work on it', async () => {
    const expected = await plainAnswers()
    expect(await answersAfterWalk('tls-cluster', testPrefix('tlscl'))).toEqual(expected)
    // Through ingest jobs (BullMQ queue and workers on the TLS cluster), and the flags instead of the environment.
    const prefix = testPrefix('tlsjobs')
    tracedClusterPrefix = prefix
    expect(await answersAfterWalk('tls-cluster', prefix, ['--ingest-workers', '2'])).toEqual(expected)
    const status = await cli('cluster status', ['--redis-cluster', cluster.nodeUrls.slice(0, 1).join(','), '--redis-tls-ca', tls.ca, '--prefix', prefix, 'status', '--json'])
    expect(status.code, status.stderr).toBe(0)
    const masters = (JSON.parse(status.stdout) as { redis: { masters?: { node: string }[] } }).redis.masters?.map((m) => m.node).sort()
    // The cluster announces its TLS ports (tls-cluster yes): the client found every master on them.
    expect(masters).toEqual([...cluster.nodes].sort())
  }, 180_000)

  it('serve on the TLS cluster: its store and queue connections reach the cluster with the credentials and the CA (ready, metrics)', async () => {
    expect(tracedClusterPrefix).toBeDefined()
    const serve = await startServe({ REDIS_CLUSTER_NODES: cluster.nodeUrls.join(','), REDIS_TLS_CA: tls.ca, EXPOSURE_PREFIX: tracedClusterPrefix! })
    try {
      const ready = await fetch(`${serve.url}/readyz`, { signal: AbortSignal.timeout(15_000) })
      const body = await ready.text()
      expect(ready.status, body).toBe(200)
      expect(JSON.parse(body)).toMatchObject({ status: 'ready', checks: { redis: 'ok' } })
      expect((await fetch(`${serve.url}/metrics`, { signal: AbortSignal.timeout(15_000) })).status).toBe(200)
    } finally {
      expect((await serve.stop()).code).toBe(0)
    }
    for (const password of PASSWORDS) expect(serve.output()).not.toContain(password)
  }, 90_000)

  it('a TLS cluster without its CA, or with a wrong password: a clear error within seconds; nodes that disagree are bad configuration', async () => {
    const nodes = cluster.nodeUrls.join(',')
    const noCa = await failing('cluster without CA', ['--redis-cluster', nodes, 'status'])
    expect(noCa.code).toBe(1)
    expect(noCa.stderr).toMatch(/cannot reach Redis at rediss-cluster:\/\/\*\*\*@.*certificate.*--redis-tls-ca/)
    expect(noCa.ms).toBeLessThan(10_000)
    const wrong = await failing('cluster wrong password', ['--redis-cluster', cluster.nodes.map((n) => `rediss://:nope@${n}`).join(','), '--redis-tls-ca', tls.ca, 'status'])
    expect(wrong.code).toBe(1)
    expect(wrong.stderr).toMatch(/WRONGPASS.*password/)
    expect(wrong.stderr).not.toContain('nope')
    expect(wrong.ms).toBeLessThan(10_000)
    const mixed = await failing('nodes disagree', ['--redis-cluster', `${cluster.nodeUrls[0]},redis://:${CLUSTER_PASSWORD}@${cluster.nodes[1]}`, '--redis-tls-ca', tls.ca, 'status'])
    expect(mixed.code).toBe(2)
    expect(mixed.stderr).toMatch(/redisCluster \(flag --redis-cluster.*disagree on TLS/)
  }, 60_000)

  it('no password appears in anything the CLI printed', () => {
    expect(runs.length).toBeGreaterThan(20)
    for (const { what, result } of runs) {
      for (const password of PASSWORDS) {
        expect(result.stdout, what).not.toContain(password)
        expect(result.stderr, what).not.toContain(password)
      }
    }
  })
})
