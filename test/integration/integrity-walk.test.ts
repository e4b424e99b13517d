/**
 * Issue 7, walks and answers: every finding reproduced against real processes and a real
 * redis-server. Walks are versioned (answers come from the published walk until a new one
 * completes), stale answers say so and why, an interrupted or killed walk never blocks the next
 * one, a walk over an empty or vanished store never completes, Redis faults end a command with one
 * clear line.
 */
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { createChecker, type CheckResult } from '../../src/walk/check.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { traceWalk, type TraceOptions } from '../../src/walk/incremental.ts'
import { isExposureError } from '../../src/errors.ts'
import type { Address } from '../../src/types.ts'
import { BIN, runCli } from '../support/cli.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'
import { generateEtl, type GeneratedEtl } from '../support/random-etl.ts'
import { startRedis, testPrefix } from '../support/redis-server.ts'
import { startRestartableRedis } from '../support/restartable-redis.ts'

const harness = useRedisAndTempDir('integrity-walk')

const DEFAULT_STOPS = ['exchange', 'dex', 'bridge', 'mixer', 'service']

function everyAddress(etl: GeneratedEtl): Address[] {
  const all = new Set<string>()
  for (const t of etl.transactions) for (const a of [t.from_address, t.to_address]) if (a) all.add(a.toLowerCase())
  for (const t of etl.tokenTransfers) for (const a of [t.from_address, t.to_address]) if (a) all.add(a.toLowerCase())
  return [...all].sort() as Address[]
}

async function storeWith(seed: number, seeds?: (etl: GeneratedEtl) => string[]): Promise<{ store: GraphStore; etl: GeneratedEtl; prefix: string; folder: string }> {
  const etl = generateEtl(seed)
  const folder = await writeEtlFolder(harness.dir, `w${seed}`, etl)
  const prefix = testPrefix('walk')
  const store = createGraphStore(harness.redis, prefix)
  await importEtl(store, [folder], { listedTokens: [etl.listedToken as Address] })
  await store.putSeeds((seeds ? seeds(etl) : etl.seeds).map((a) => ({ address: a as Address, label: 'seed', source: 'test' })))
  await store.putLabels(etl.labels.map((l) => ({ address: l.address as Address, label: l.label, category: l.category })))
  return { store, etl, prefix, folder }
}

const options = (url: string, overrides: Partial<TraceOptions> = {}): TraceOptions => ({ redisUrl: url, directions: ['downstream', 'upstream'], maxHops: 4, batchSize: 2, stopCategories: DEFAULT_STOPS, counterpartyCap: 1_000, dust: {}, workers: 1, concurrency: 1, ...overrides })

/** The parts of an answer that must equal between two answers from the same walk. */
const essence = (r: CheckResult) => JSON.stringify({ risk: r.risk, d: r.downstream, u: r.upstream, walk: r.walk?.runId })

describe('walks are versioned', () => {
  it('checks during a walk: every answer is the published walk\'s or the new one\'s, never a mix, never partial', async () => {
    const { store, etl, prefix } = await storeWith(301, (e) => e.seeds.slice(0, 1))
    const checker = createChecker(store, DEFAULT_RISK_POLICY)
    const addresses = everyAddress(etl)
    const first = await traceWalk(store, options(harness.server.url))
    const before = new Map((await checker.check(addresses)).map((r) => [r.address.toLowerCase(), r]))
    // More seeds: the second walk gives other answers; it runs one small batch at a time.
    await store.putSeeds(etl.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'test' })))
    let done = false
    const seen: CheckResult[] = []
    const walking = traceWalk(store, options(harness.server.url)).finally(() => (done = true))
    while (!done) seen.push(...(await checker.check(addresses)))
    const second = await walking
    const after = new Map((await checker.check(addresses)).map((r) => [r.address.toLowerCase(), r]))
    expect(seen.length).toBeGreaterThan(0)
    let fromFirst = 0
    for (const r of seen) {
      const key = r.address.toLowerCase()
      if (r.walk?.runId === first.runId) {
        fromFirst++
        expect(essence(r), key).toBe(essence(before.get(key)!))
      } else {
        expect(r.walk?.runId).toBe(second.runId)
        expect(essence(r), key).toBe(essence(after.get(key)!))
      }
    }
    expect(fromFirst).toBeGreaterThan(0)
    // The walks differ somewhere, or this test proves nothing.
    expect(addresses.some((a) => essence(before.get(a)!).replace(first.runId, '') !== essence(after.get(a)!).replace(second.runId, ''))).toBe(true)
    await dropPrefix(harness.redis, prefix)
  })

  it('a walk over an empty store fails; check then says there is no walk instead of answering none', async () => {
    const prefix = testPrefix('empty')
    const seedsFile = join(harness.dir, 'empty-seeds.csv')
    await writeFile(seedsFile, 'address,label,source\n0x1111111111111111111111111111111111111111,s,test\n')
    const g = ['--redis-url', harness.server.url, '--prefix', prefix]
    expect((await runCli([...g, 'seeds', 'import', seedsFile])).code).toBe(0)
    const trace = await runCli([...g, 'trace'])
    expect(trace.code).toBe(1)
    expect(trace.stderr).toMatch(/holds no transfers/)
    expect(trace.stdout).not.toMatch(/complete/)
    const check = await runCli([...g, 'check', '--json', '0x1111111111111111111111111111111111111111'])
    expect(check.code).toBe(1)
    expect(check.stdout).toBe('')
    expect(check.stderr).toMatch(/no complete walk/)
    const status = JSON.parse((await runCli([...g, 'status', '--json'])).stdout) as { walk: unknown }
    expect(status.walk).toBe(null)
  })

  it('Redis restarted without persistence mid-walk: the walk fails, nothing is published; with AOF it resumes and equals a clean walk', async () => {
    for (const appendonly of [false, true]) {
      const server = await startRestartableRedis({ appendonly })
      const redis = new Redis(server.url, { maxRetriesPerRequest: null })
      redis.on('error', () => undefined)
      try {
        const etl = generateEtl(302)
        const folder = await writeEtlFolder(harness.dir, `restart${appendonly}`, etl)
        const prefix = testPrefix('restart')
        const store = createGraphStore(redis, prefix)
        await importEtl(store, [folder], { listedTokens: [etl.listedToken as Address] })
        await store.putSeeds(etl.seeds.map((a) => ({ address: a as Address, label: 'seed', source: 'test' })))
        let expanded = 0
        const restartOnce = async () => {
          if (++expanded === 3) await server.restart('SIGTERM')
        }
        const result = await traceWalk(store, { ...options(server.url), beforeExpand: restartOnce }).then((s) => s, (e: unknown) => e)
        expect(expanded).toBeGreaterThanOrEqual(3)
        if (!appendonly) {
          expect(isExposureError(result, 'STORE_VANISHED') || isExposureError(result, 'WALK_FAILED'), String(result)).toBe(true)
          expect(await redis.hget(`${prefix}:walk:current`, 'runId')).toBe(null)
        } else {
          expect(isExposureError(result), String(result)).toBe(false)
          const checker = createChecker(store, DEFAULT_RISK_POLICY)
          const restarted = (await checker.check(everyAddress(etl))).map((r) => JSON.stringify([r.risk, r.downstream, r.upstream]))
          await traceWalk(store, options(server.url))
          const clean = (await checker.check(everyAddress(etl))).map((r) => JSON.stringify([r.risk, r.downstream, r.upstream]))
          expect(restarted).toEqual(clean)
        }
      } finally {
        redis.disconnect()
        await server.dispose()
      }
    }
  })
})

describe('answers say when they are stale, and why', () => {
  it('labels import, seeds remove --no-walk, a new import, and a configured parameter each make answers stale with that reason; a new walk makes them current', async () => {
    const etl = generateEtl(303)
    const folder = await writeEtlFolder(harness.dir, 'stale', etl)
    const more = generateEtl(304)
    more.listedToken = etl.listedToken
    const folder2 = await writeEtlFolder(harness.dir, 'stale2', more)
    const prefix = testPrefix('stale')
    const g = ['--redis-url', harness.server.url, '--prefix', prefix]
    const env = { EXPOSURE_ASSETS: etl.listedToken }
    const seedsFile = join(harness.dir, 'stale-seeds.csv')
    await writeFile(seedsFile, `address,label,source\n${etl.seeds.map((s) => `${s},seed,test`).join('\n')}\n`)
    const exposed = etl.seeds[0]!
    expect((await runCli([...g, 'import', folder], env)).code).toBe(0)
    expect((await runCli([...g, 'seeds', 'import', seedsFile], env)).code).toBe(0)
    expect((await runCli([...g, 'trace'], env)).code).toBe(0)
    const reasons = async (extraEnv: Record<string, string> = {}) => {
      const result = await runCli([...g, 'check', '--json', exposed], { ...env, ...extraEnv })
      expect(result.code, result.stderr).toBe(0)
      const [answer] = JSON.parse(result.stdout) as { stale: boolean; staleReasons: { kind: string }[]; walk: { runId: string } }[]
      return { stale: answer!.stale, kinds: answer!.staleReasons.map((r) => r.kind), runId: answer!.walk.runId, stderr: result.stderr }
    }
    const fresh = await reasons()
    expect(fresh).toMatchObject({ stale: false, kinds: [] })
    expect(await reasons({ EXPOSURE_MAX_HOPS: '2' })).toMatchObject({ stale: true, kinds: ['parameters'] })
    const labels = join(harness.dir, 'stale-labels.csv')
    await writeFile(labels, `address,label,category\n${etl.seeds[1]},Some Exchange,exchange\n`)
    expect((await runCli([...g, 'labels', 'import', labels], env)).code).toBe(0)
    const afterLabels = await reasons()
    expect(afterLabels).toMatchObject({ stale: true, kinds: ['labels'], runId: fresh.runId })
    expect(afterLabels.stderr).toMatch(/answers are stale/)
    expect((await runCli([...g, 'seeds', 'remove', '--no-walk', etl.seeds[etl.seeds.length - 1]!], env)).code).toBe(0)
    expect((await reasons()).kinds).toEqual(['seeds', 'labels'])
    expect((await runCli([...g, 'import', folder2], env)).code).toBe(0)
    expect((await reasons()).kinds).toEqual(['transfers', 'seeds', 'labels'])
    const status = JSON.parse((await runCli([...g, 'status', '--json'], env)).stdout) as { walk: { stale: boolean; staleReasons: { kind: string }[] } }
    expect(status.walk.stale).toBe(true)
    expect(status.walk.staleReasons.map((r) => r.kind)).toEqual(['transfers', 'seeds', 'labels'])
    expect((await runCli([...g, 'trace'], env)).code).toBe(0)
    const current = await reasons()
    expect(current).toMatchObject({ stale: false, kinds: [] })
    expect(current.runId).not.toBe(fresh.runId)
    await dropPrefix(harness.redis, prefix)
  })
})

describe('interrupted walks', () => {
  async function published(prefix: string): Promise<{ g: string[]; env: Record<string, string>; exposed: string; runId: string }> {
    const etl = generateEtl(305)
    const folder = await writeEtlFolder(harness.dir, `int${prefix.slice(-4)}`, etl)
    const g = ['--redis-url', harness.server.url, '--prefix', prefix]
    const env = { EXPOSURE_ASSETS: etl.listedToken }
    const seedsFile = join(harness.dir, `int-seeds${prefix.slice(-4)}.csv`)
    await writeFile(seedsFile, `address,label,source\n${etl.seeds.map((s) => `${s},seed,test`).join('\n')}\n`)
    expect((await runCli([...g, 'import', folder], env)).code).toBe(0)
    expect((await runCli([...g, 'seeds', 'import', '--no-walk', seedsFile], env)).code).toBe(0)
    const traced = await runCli([...g, 'trace', '--json'], env)
    expect(traced.code, traced.stderr).toBe(0)
    return { g, env, exposed: etl.seeds[0]!, runId: (JSON.parse(traced.stdout) as { runId: string }).runId }
  }

  /** Starts `trace --no-workers` (it waits for workers that never come) and resolves once its run is recorded. */
  async function startIdleTrace(g: string[], env: Record<string, string>, prefix: string) {
    const child = spawn(process.execPath, [BIN, ...g, 'trace', '--no-workers'], { env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const exit = new Promise<number | null>((resolve) => child.once('close', resolve))
    for (;;) {
      if ((await harness.redis.hget(`${prefix}:walk:meta`, 'status')) === 'running') break
      await new Promise((r) => setTimeout(r, 50))
    }
    return { child, exit, stderr: () => stderr }
  }

  it('Ctrl-C: exit 130, recorded as interrupted, its jobs drained, the published walk still answers, a new trace starts at once', async () => {
    const prefix = testPrefix('sigint')
    const { g, env, exposed, runId } = await published(prefix)
    const running = await startIdleTrace(g, env, prefix)
    running.child.kill('SIGINT')
    expect(await running.exit, running.stderr()).toBe(130)
    const status = JSON.parse((await runCli([...g, 'status', '--json'], env)).stdout) as { walk: { runId: string }; latestWalk: { status: string }; jobs: Record<string, number> }
    expect(status.walk.runId).toBe(runId)
    expect(status.latestWalk.status).toBe('interrupted')
    expect(status.jobs.waiting ?? 0).toBe(0)
    const check = JSON.parse((await runCli([...g, 'check', '--json', exposed], env)).stdout) as { walk: { runId: string }; risk: string }[]
    expect(check[0]!.walk.runId).toBe(runId)
    expect(check[0]!.risk).toBe('severe')
    const again = await runCli([...g, 'trace'], env)
    expect(again.code, again.stderr).toBe(0)
    await dropPrefix(harness.redis, prefix)
  })

  it('SIGKILL of the coordinator: status says interrupted, the next trace takes over at once (no lock to wait out)', async () => {
    const prefix = testPrefix('sigkill')
    const { g, env, runId } = await published(prefix)
    const running = await startIdleTrace(g, env, prefix)
    running.child.kill('SIGKILL')
    await running.exit
    const status = JSON.parse((await runCli([...g, 'status', '--json'], env)).stdout) as { walk: { runId: string }; latestWalk: { status: string; error: string } }
    expect(status.walk.runId).toBe(runId)
    expect(status.latestWalk.status).toBe('interrupted')
    const again = await runCli([...g, 'trace'], env)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toMatch(/was interrupted \(its coordinator is gone\)/)
    await dropPrefix(harness.redis, prefix)
  })

  it('killed right before publishing: the published walk is unchanged and the next trace publishes', async () => {
    const prefix = testPrefix('prepub')
    const { g, env, runId } = await published(prefix)
    const killed = await runCli([...g, 'trace'], { ...env, EXPOSURE_FAILPOINT: 'walk:before-publish' })
    expect(killed.code).toBe(null)
    const status = JSON.parse((await runCli([...g, 'status', '--json'], env)).stdout) as { walk: { runId: string }; latestWalk: { status: string } }
    expect(status.walk.runId).toBe(runId)
    expect(status.latestWalk.status).toBe('interrupted')
    expect((await runCli([...g, 'trace'], env)).code).toBe(0)
    await dropPrefix(harness.redis, prefix)
  })
  it('killed right after publishing: the new walk answers, and the next trace frees the replaced run\'s keys that were left behind', async () => {
    const prefix = testPrefix('postpub')
    const { g, env, exposed, runId: first } = await published(prefix)
    const runKeys = async (runId: string) => {
      const found: string[] = []
      let cursor = '0'
      do {
        const [next, keys] = await harness.redis.scan(cursor, 'MATCH', `*:walk:r:${runId}:*`, 'COUNT', 1000)
        cursor = next
        found.push(...keys)
      } while (cursor !== '0')
      return found
    }
    expect((await runKeys(first)).length).toBeGreaterThan(0)
    const killed = await runCli([...g, 'trace'], { ...env, EXPOSURE_FAILPOINT: 'walk:published' })
    expect(killed.code, killed.stderr).toBe(null)
    const status = JSON.parse((await runCli([...g, 'status', '--json'], env)).stdout) as { walk: { runId: string }; latestWalk: { status: string } }
    const second = status.walk.runId
    expect(second).not.toBe(first)
    expect(status.latestWalk.status).toBe('complete')
    const check = JSON.parse((await runCli([...g, 'check', '--json', exposed], env)).stdout) as { walk: { runId: string }; risk: string }[]
    expect(check[0]!.walk.runId).toBe(second)
    expect(check[0]!.risk).toBe('severe')
    // The replaced run's labels are still there (the process died before freeing them) and registered.
    expect((await runKeys(first)).some((k) => k.endsWith(':labels'))).toBe(true)
    expect(await harness.redis.smembers(`${prefix}:walk:runs`)).toEqual(expect.arrayContaining([first, second]))
    const again = await runCli([...g, 'trace'], env)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toContain(`freed the keys of walk ${first}`)
    const third = (JSON.parse((await runCli([...g, 'status', '--json'], env)).stdout) as { walk: { runId: string } }).walk.runId
    expect(await runKeys(first)).toEqual([])
    expect(await runKeys(second)).toEqual([])
    expect((await runKeys(third)).length).toBeGreaterThan(0)
    expect(await harness.redis.smembers(`${prefix}:walk:runs`)).toEqual([third])
    await dropPrefix(harness.redis, prefix)
  })
})

describe('Redis faults and operator mistakes', () => {
  it('Redis going away during trace: the command ends with one clear line, no stack traces, no flood', async () => {
    const server = await startRestartableRedis({ appendonly: false })
    try {
      const etl = generateEtl(306)
      const folder = await writeEtlFolder(harness.dir, 'away', etl)
      const g = ['--redis-url', server.url, '--prefix', testPrefix('away')]
      const env = { EXPOSURE_ASSETS: etl.listedToken }
      const seedsFile = join(harness.dir, 'away-seeds.csv')
      await writeFile(seedsFile, `address,label,source\n${etl.seeds.map((s) => `${s},seed,test`).join('\n')}\n`)
      expect((await runCli([...g, 'import', folder], env)).code).toBe(0)
      expect((await runCli([...g, 'seeds', 'import', '--no-walk', seedsFile], env)).code).toBe(0)
      const child = spawn(process.execPath, [BIN, ...g, 'trace', '--no-workers'], { env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      const exit = new Promise<number | null>((resolve) => child.once('close', resolve))
      const probe = new Redis(server.url)
      while ((await probe.hget(`${g[3]}:walk:meta`, 'status')) !== 'running') await new Promise((r) => setTimeout(r, 50))
      probe.disconnect()
      await server.stop('SIGKILL')
      expect(await exit).toBe(1)
      const lines = stderr.trim().split('\n').filter((l) => l.length > 0)
      expect(lines.filter((l) => l.startsWith('error:'))).toEqual([expect.stringMatching(/lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+ .*; stopped/)])
      expect(lines.length).toBeLessThanOrEqual(3)
      expect(stderr).not.toMatch(/\n\s+at /)
    } finally {
      await server.dispose()
    }
  })

  it('a database index the server lacks is refused (exit 2), not quietly replaced by database 0', async () => {
    const result = await runCli(['--redis-url', `${harness.server.url}/99`, 'status'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/has no database 99/)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('a Redis that may evict keys: writes refused unless --allow-eviction; reads warn', async () => {
    const evicting = await startRedis()
    const admin = new Redis(evicting.url)
    try {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
      const etl = generateEtl(307)
      const folder = await writeEtlFolder(harness.dir, 'evict', etl)
      const g = ['--redis-url', evicting.url, '--prefix', testPrefix('evict')]
      const refused = await runCli([...g, 'import', folder])
      expect(refused.code).toBe(2)
      expect(refused.stderr).toMatch(/maxmemory-policy is 'allkeys-lru'.*--allow-eviction/)
      expect(await admin.dbsize()).toBe(0)
      const allowed = await runCli([...g, '--allow-eviction', 'import', folder])
      expect(allowed.code, allowed.stderr).toBe(0)
      expect(allowed.stderr).toMatch(/warning: Redis maxmemory-policy is 'allkeys-lru'/)
      const read = await runCli([...g, 'status'])
      expect(read.code).toBe(0)
      expect(read.stderr).toMatch(/maxmemory-policy is 'allkeys-lru'/)
    } finally {
      admin.disconnect()
      await evicting.stop()
    }
  })
})

describe('check reads addresses from a file or standard input', () => {
  it('5,000 addresses from --file and from stdin: one answer each, in order; a bad line is named by file:line', async () => {
    const { prefix, etl } = await storeWith(308)
    await traceWalk(createGraphStore(harness.redis, prefix), options(harness.server.url))
    const addresses = Array.from({ length: 5_000 }, (_, i) => (i % 10 === 0 ? etl.seeds[0]! : `0x${(i + 1).toString(16).padStart(40, '0')}`))
    const file = join(harness.dir, 'many.txt')
    await writeFile(file, `# wallets to screen\n${addresses.join('\n')}\n`)
    const g = ['--redis-url', harness.server.url, '--prefix', prefix]
    const fromFile = await runCli([...g, 'check', '--json', '--file', file])
    expect(fromFile.code, fromFile.stderr).toBe(0)
    const answers = JSON.parse(fromFile.stdout) as { address: string; risk: string }[]
    expect(answers.map((a) => a.address.toLowerCase())).toEqual(addresses.map((a) => a.toLowerCase()))
    expect(answers.filter((a) => a.risk === 'severe')).toHaveLength(500)
    const child = spawn(process.execPath, [BIN, ...g, 'check', '--json', '--file', '-'], { env: { ...process.env, REDIS_URL: undefined } as NodeJS.ProcessEnv, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stdin.end(addresses.join('\n'))
    expect(await new Promise((resolve) => child.once('close', resolve))).toBe(0)
    expect((JSON.parse(stdout) as unknown[]).length).toBe(5_000)
    await writeFile(file, `${addresses[0]}\n0x12345\n`)
    const bad = await runCli([...g, 'check', '--file', file])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(`${file}:2`)
    expect(bad.stdout).toBe('')
    await dropPrefix(harness.redis, prefix)
  })
})
