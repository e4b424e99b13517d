import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli.ts'
import { freePort, startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { storeGlobs } from '../../src/store/partitions.ts'

/**
 * The CLI contract on the shared etl sample (a copy in fixtures/etl-sample): import, seeds import,
 * labels import, trace --hops 4, check --json must reproduce expected.json; plus the bad-input and
 * fault behaviour the issue names (exit 2, nothing written, clear messages).
 */
const SAMPLE = fileURLToPath(new URL('../../fixtures/etl-sample/', import.meta.url))
let server: TestRedis
let redis: Redis
let work: string

beforeAll(async () => {
  server = await startRedis()
  redis = new Redis(server.url)
  work = await mkdtemp(join(tmpdir(), 'cli-'))
})

afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
  await rm(work, { recursive: true, force: true })
})

const storeKeys = async (prefix: string) => (await Promise.all(storeGlobs(prefix).map((g) => redis.keys(g)))).flat().sort()

describe('exposure CLI on the etl sample', () => {
  it('reproduces expected.json with check --json, with valid paths, and re-import changes nothing', async () => {
    const prefix = testPrefix('cli')
    const g = ['--redis-url', server.url, '--prefix', prefix]
    const imported = await runCli([...g, 'import', '--json', SAMPLE])
    expect(imported.code, imported.stderr).toBe(0)
    const summary = JSON.parse(imported.stdout) as { transfersCounted: number; transfersAdded: number; files: { kind: string; skipped: Record<string, number> }[] }
    expect(summary.transfersAdded).toBe(summary.transfersCounted)
    expect(summary.files.find((f) => f.kind === 'token_transfers')!.skipped['unlisted-token']).toBeGreaterThan(0)
    const again = await runCli([...g, 'import', '--json', SAMPLE])
    expect(JSON.parse(again.stdout).transfersAdded).toBe(0)

    expect((await runCli([...g, 'seeds', 'import', join(SAMPLE, 'seeds.csv')])).code).toBe(0)
    expect((await runCli([...g, 'labels', 'import', join(SAMPLE, 'labels.csv')])).code).toBe(0)
    const trace = await runCli([...g, 'trace', '--hops', '4'])
    expect(trace.code, trace.stderr).toBe(0)

    const expected = JSON.parse(await readFile(join(SAMPLE, 'expected.json'), 'utf8')).expected as Record<string, { downstream: number | null; upstream: number | null }>
    const addresses = Object.keys(expected)
    const check = await runCli([...g, 'check', '--json', ...addresses])
    expect(check.code, check.stderr).toBe(0)
    const results = JSON.parse(check.stdout) as {
      address: string
      risk: string
      downstream: { hops: number; seed: string; path: { from: string; to: string; blockNumber: number; transactionIndex: number; txHash: string; asset: string; amount: string }[] } | null
      upstream: { hops: number; seed: string; path: { from: string; to: string; blockNumber: number; transactionIndex: number }[] } | null
    }[]
    expect(results).toHaveLength(addresses.length)
    const got = Object.fromEntries(results.map((r) => [r.address.toLowerCase(), { downstream: r.downstream?.hops ?? null, upstream: r.upstream?.hops ?? null }]))
    expect(got).toEqual(expected)
    for (const r of results) {
      for (const [direction, e] of [['downstream', r.downstream], ['upstream', r.upstream]] as const) {
        if (!e) continue
        expect(e.path).toHaveLength(e.hops)
        if (e.hops === 0) continue
        const ends = direction === 'downstream' ? [e.path[0]!.from, e.path.at(-1)!.to] : [e.path[0]!.from, e.path.at(-1)!.to]
        expect(direction === 'downstream' ? ends : ends.reverse()).toEqual([e.seed, r.address])
        for (let i = 1; i < e.path.length; i++) {
          expect(e.path[i]!.from).toBe(e.path[i - 1]!.to)
          const [a, b] = [e.path[i - 1]!, e.path[i]!]
          expect(b.blockNumber * 65536 + b.transactionIndex).toBeGreaterThanOrEqual(a.blockNumber * 65536 + a.transactionIndex)
        }
      }
      const hops = Math.min(r.downstream?.hops ?? Infinity, r.upstream?.hops ?? Infinity)
      expect(r.risk).toBe(hops === 0 ? 'severe' : hops === 1 ? 'high' : hops <= 3 ? 'medium' : hops < Infinity ? 'low' : 'none')
    }

    const table = await runCli([...g, 'check', addresses[0]!])
    expect(table.stdout).toContain('severe')
    const path = await runCli([...g, 'path', results.find((r) => r.downstream?.hops === 3)!.address])
    expect(path.code).toBe(0)
    expect(path.stdout).toMatch(/downstream .*: 3 hop\(s\)/)
    expect(path.stdout).toMatch(/0x[0-9a-f]{64}/)
  })

  it('trace --no-workers leaves the walk to separate `exposure worker` processes, with the same answers', async () => {
    const prefix = testPrefix('sep')
    const g = ['--redis-url', server.url, '--prefix', prefix]
    expect((await runCli([...g, 'import', SAMPLE])).code).toBe(0)
    expect((await runCli([...g, 'seeds', 'import', join(SAMPLE, 'seeds.csv')])).code).toBe(0)
    expect((await runCli([...g, 'labels', 'import', join(SAMPLE, 'labels.csv')])).code).toBe(0)
    const { spawn } = await import('node:child_process')
    const { BIN } = await import('../support/cli.ts')
    const worker = spawn(process.execPath, [BIN, ...g, 'worker'], { stdio: 'ignore' })
    try {
      const trace = await runCli([...g, 'trace', '--no-workers', '--json'])
      expect(trace.code, trace.stderr).toBe(0)
      expect(JSON.parse(trace.stdout).labelled.downstream).toBeGreaterThan(100)
    } finally {
      worker.kill('SIGTERM')
    }
    const expected = JSON.parse(await readFile(join(SAMPLE, 'expected.json'), 'utf8')).expected as Record<string, { downstream: number | null; upstream: number | null }>
    const check = await runCli([...g, 'check', '--json', ...Object.keys(expected)])
    const got = Object.fromEntries((JSON.parse(check.stdout) as { address: string; downstream: { hops: number } | null; upstream: { hops: number } | null }[]).map((r) => [r.address.toLowerCase(), { downstream: r.downstream?.hops ?? null, upstream: r.upstream?.hops ?? null }]))
    expect(got).toEqual(expected)
  })

  it('witness paths carry exact amounts above 2^64 (in-records keep them saturated) in both directions', async () => {
    const prefix = testPrefix('big')
    const g = ['--redis-url', server.url, '--prefix', prefix]
    const folder = join(work, 'big')
    await import('node:fs/promises').then((fs) => fs.mkdir(folder))
    const [w, s, x] = ['0x' + '1'.repeat(40), '0x' + '2'.repeat(40), '0x' + '3'.repeat(40)]
    const header = 'hash,block_number,transaction_index,from_address,to_address,value,receipt_status'
    const big = '123456789012345678901234' // 1.2e23 wei > 2^64
    await writeFile(join(folder, 'transactions.csv'), [header, `0x${'a'.repeat(64)},10,0,${w},${s},${big},1`, `0x${'b'.repeat(64)},10,1,${w},${s},${big.slice(0, -1)}5,1`, `0x${'c'.repeat(64)},11,0,${s},${x},${big},1`].join('\n'))
    await writeFile(join(folder, 'seeds.csv'), `address,label,source\n${s},seed,test\n`)
    expect((await runCli([...g, 'import', folder])).code).toBe(0)
    expect((await runCli([...g, 'seeds', 'import', join(folder, 'seeds.csv')])).code).toBe(0)
    expect((await runCli([...g, 'trace'])).code).toBe(0)
    const check = await runCli([...g, 'check', '--json', w, x])
    const [forW, forX] = JSON.parse(check.stdout) as { upstream: { path: { txHash: string; amount: string }[] } | null; downstream: { path: { txHash: string; amount: string }[] } | null }[]
    // Two transfers W→S at equal saturated in-amounts but different exact amounts: the witness is
    // one of them, with its own hash and exact amount.
    expect([[`0x${'a'.repeat(64)}`, big], [`0x${'b'.repeat(64)}`, `${big.slice(0, -1)}5`]]).toContainEqual([forW!.upstream!.path[0]!.txHash, forW!.upstream!.path[0]!.amount])
    expect(forX!.downstream!.path[0]).toMatchObject({ txHash: `0x${'c'.repeat(64)}`, amount: big })
  })

  it('rejects a malformed CSV row with file:line, exit 2, and writes nothing', async () => {
    const prefix = testPrefix('bad')
    const folder = join(work, 'bad')
    await cp(SAMPLE, folder, { recursive: true })
    const traces = (await readFile(join(folder, 'traces.csv'), 'utf8')).split('\n')
    traces[7] = traces[7]!.replace(/,0x[0-9a-f]{40},/, ',0xnot-an-address,')
    await writeFile(join(folder, 'traces.csv'), traces.join('\n'))
    const result = await runCli(['--redis-url', server.url, '--prefix', prefix, 'import', folder])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`${join(folder, 'traces.csv')}:8`)
    expect(result.stderr).toContain('0xnot-an-address')
    expect(await storeKeys(prefix)).toEqual([`${prefix}:assets`])

    const skipped = await runCli(['--redis-url', server.url, '--prefix', prefix, 'import', '--skip-invalid', '--json', folder])
    expect(skipped.code).toBe(0)
    const summary = JSON.parse(skipped.stdout)
    expect(summary.files.find((f: { kind: string }) => f.kind === 'traces').skipped.invalid).toBe(1)
    expect(summary.invalid[0].line).toBe(8)
  })

  it('rejects a row with a missing field, and a file without the needed columns', async () => {
    const prefix = testPrefix('bad2')
    const file = join(work, 'transactions.csv')
    await writeFile(file, 'hash,block_number\n0x01,1\n')
    const missing = await runCli(['--redis-url', server.url, '--prefix', prefix, 'import', file])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/lacks column\(s\) transaction_index, from_address/)
    const short = join(work, 'token_transfers.csv')
    await writeFile(short, 'token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n0xdac17f958d2ee523a2206206994597c13d831ec7,0x1\n')
    const ragged = await runCli(['--redis-url', server.url, '--prefix', prefix, 'import', short])
    expect(ragged.code).toBe(2)
    expect(ragged.stderr).toContain(`${short}:2`)
    expect(await storeKeys(prefix)).toEqual([`${prefix}:assets`])
  })

  it('refuses a store of an older format for reading and writing (exit 2, naming it and what to do), writes nothing', async () => {
    // A format-2 store: its nodes under the prefix's own tag, where this version never looks.
    const prefix = testPrefix('old')
    const address = '0xa797bedfcb1f5c3fa3ea78d86520caa3c9d737a4'
    await redis.hset(`${prefix}:meta`, { format: '2', transfers: '10', addresses: '4', version: '1', storeId: 'abc' })
    await redis.set(`${prefix}:n:${address.slice(2)}`, 'old node')
    const before = await storeKeys(prefix)
    const g = ['--redis-url', server.url, '--prefix', prefix]
    for (const args of [['check', '--json', address], ['import', SAMPLE], ['trace', '--hops', '2'], ['status'], ['serve', '--port', '0', '--no-workers']]) {
      const result = await runCli([...g, ...args])
      expect(result.code, `${args[0]}: ${result.stderr}`).toBe(2)
      expect(result.stdout, args[0]).toBe('')
      expect(result.stderr, args[0]).toContain(prefix)
      expect(result.stderr, args[0]).toMatch(/store format 2, this version reads and writes 4/)
      expect(result.stderr, args[0]).toMatch(/re-import into a new store \(--prefix\)/)
    }
    expect(await storeKeys(prefix)).toEqual(before)
  })

  it('rejects invalid addresses in check with exit 2 and no output', async () => {
    const g = ['--redis-url', server.url, '--prefix', testPrefix('addr')]
    const good = '0xa797bedfcb1f5c3fa3ea78d86520caa3c9d737a4'
    for (const bad of ['0x123', '0xzz97bedfcb1f5c3fa3ea78d86520caa3c9d737a4', '0xA797bedfcb1f5c3fa3ea78d86520caa3c9d737a4', 'a797bedfcb1f5c3fa3ea78d86520caa3c9d737a4']) {
      const result = await runCli([...g, 'check', '--json', good, bad])
      expect(result.code, bad).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toContain(bad)
    }
    // A valid checksummed address is accepted; with no walk in the store the answer would be
    // unknown, which must never read as 'none': exit 1, naming the missing walk.
    const checksummed = await runCli([...g, 'check', '--json', '0xA797bEdfcB1f5C3fA3Ea78d86520caa3C9d737A4'])
    expect(checksummed.code).toBe(1)
    expect(checksummed.stdout).toBe('')
    expect(checksummed.stderr).toContain('no complete walk')
  })

  it('names an unreachable Redis, exit 1', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`
    const result = await runCli(['--redis-url', url, 'check', '0xa797bedfcb1f5c3fa3ea78d86520caa3c9d737a4'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`cannot reach Redis at ${url}`)
  })

  it('warns when Redis may evict keys', async () => {
    const evicting = await startRedis()
    const admin = new Redis(evicting.url)
    try {
      await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
      const result = await runCli(['--redis-url', evicting.url, 'status'])
      expect(result.code).toBe(0)
      expect(result.stderr).toMatch(/maxmemory-policy is 'allkeys-lru'.*noeviction/)
    } finally {
      admin.disconnect()
      await evicting.stop()
    }
  })

  it('rejects bad configuration naming the key', async () => {
    const result = await runCli(['--redis-url', server.url, 'trace'], { EXPOSURE_MAX_HOPS: 'four' })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('EXPOSURE_MAX_HOPS')
  })
})
