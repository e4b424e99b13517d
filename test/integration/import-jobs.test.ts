/**
 * Imports that scale out (`exposure import --ingest-workers N`): the files become BullMQ ingest
 * jobs that in-process workers or `exposure worker --queues ingest` processes run, and the import
 * is still committed once. Real CLI processes, a private redis-server: the store equals a plain
 * import's byte for byte, including token transfers whose transactions another job read; a worker
 * SIGKILLed after staging a job has that job run again elsewhere and the store is still equal; a
 * bad row in any file refuses the whole import (exit 2, file:line) and leaves nothing behind.
 * Large files cut into byte ranges (--ingest-range) give the same store and summary, and a bad row
 * in a range is named by its line in the file. The commit's prepare step runs as jobs on the same
 * workers: a worker SIGKILLed after writing its journal parts has its job run again (the parts are
 * written twice, the store is still equal), and a prepare job of an attempt that has ended writes
 * nothing, however late it comes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { beforeAll, describe, expect, it } from 'vitest'
import { BIN, runCli } from '../support/cli.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { generateEtl, USDT } from '../support/random-etl.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { callScript } from '../../src/store/scripts.ts'
import { resolveEtlFiles, stageEtlFiles } from '../../src/sources/etl-import.ts'
import { PARTITIONS, partitionGlob } from '../../src/store/partitions.ts'
import { ETH, type Address, type Asset } from '../../src/types.ts'
import { storeKeys } from '../../src/store/keys.ts'
import type { PreparedPartition } from '../../src/store/commit.ts'
import { TOKEN_COLUMNS, TRACE_COLUMNS, TX_COLUMNS, toCsv } from '../support/etl-rows.ts'
import { testPrefix } from '../support/redis-server.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'

const h = useRedisAndTempDir('import-jobs')
const HUB = `0x${'ab'.repeat(20)}`
let folder: string
let plainPrefix: string
let plain: { transfersCounted: number; transfersAdded: number; rows: number; tokensPending: number; files: { file: string; rows: number; transfers: number }[] }

/** A store's content apart from its queues and its own ids: nodes, tx index, block times, counters. */
async function content(prefix: string): Promise<Record<string, unknown>> {
  const nodes = await adjacencySnapshot(h.redis, prefix)
  const perBlock = async (family: string) => {
    const found: Record<string, Record<string, string>> = {}
    for (const key of (await h.redis.keys(`${partitionGlob(prefix)}:${family}:*`)).sort()) found[key.slice(key.indexOf('}') + 1)] = await h.redis.hgetall(key)
    return found
  }
  const [transfers, addresses] = await h.redis.hmget(`${prefix}:meta`, 'transfers', 'addresses')
  return { nodes: Object.fromEntries(nodes), txIndex: await perBlock('txi'), blockTimes: await perBlock('bt'), transfers, addresses, ptok: (await h.redis.keys(`${partitionGlob(prefix)}:ptok:*`)).length }
}

/** No staging, journal, import record or queued job left of any import. */
async function leftovers(prefix: string): Promise<string[]> {
  const keys = [...(await h.redis.keys(`${prefix}:*`)), ...(await h.redis.keys(`${partitionGlob(prefix)}:*`))]
  return keys.filter((k) => /:(stage|journal|import):/.test(k) || /:q:ingest-etl:etl-/.test(k)).concat((await h.redis.zcard(`${prefix}:imports`)) > 0 ? ['imports'] : [])
}

beforeAll(async () => {
  // Token transfers in files of their own (without transaction_index in etl's format), so that
  // they join transactions another job reads; one file gzipped.
  const rows = generateEtl(11, { addresses: 50, transactions: 150, blocks: 40 })
  folder = join(h.dir, 'split')
  await mkdir(folder, { recursive: true })
  const half = Math.floor(rows.transactions.length / 2)
  const tokenHalf = Math.floor(rows.tokenTransfers.length / 2)
  await writeFile(join(folder, 'transactions_a.csv'), toCsv(rows.transactions.slice(0, half), TX_COLUMNS))
  await writeFile(join(folder, 'transactions_b.csv.gz'), gzipSync(toCsv(rows.transactions.slice(half), TX_COLUMNS)))
  await writeFile(join(folder, 'traces.csv'), toCsv(rows.traces, TRACE_COLUMNS))
  await writeFile(join(folder, 'token_transfers_a.csv'), toCsv(rows.tokenTransfers.slice(0, tokenHalf), TOKEN_COLUMNS))
  await writeFile(join(folder, 'token_transfers_b.csv'), toCsv(rows.tokenTransfers.slice(tokenHalf), TOKEN_COLUMNS))
  expect(rows.tokenTransfers.length).toBeGreaterThan(4)
  // And a hub of 2,000 incoming transfers (a 70 KB node): prepare jobs journal its new value as a
  // part of its own, which the apply moves into place by RENAME (commit.ts).
  const last = Math.max(...rows.transactions.map((t) => Number(t.block_number)))
  const hubRows = Array.from({ length: 2_000 }, (_, i) => {
    const block = last + 1 + Math.floor(i / 100)
    return { hash: `0x${(0xab000000 + i).toString(16).padStart(64, '0')}`, nonce: '0', block_hash: `0x${block.toString(16).padStart(64, '0')}`, block_number: String(block), transaction_index: String(i % 100), from_address: `0x${((i * 7919) % 256).toString(16).padStart(2, '0')}${(0xab0000 + i).toString(16).padStart(38, '0')}`, to_address: HUB, value: '1000', gas: '21000', gas_price: '1', input: '0x', block_timestamp: String(1_700_000_000 + block * 12), receipt_status: '1' }
  })
  await writeFile(join(folder, 'transactions_c.csv'), toCsv(hubRows, TX_COLUMNS))
  plainPrefix = testPrefix('plain')
  const result = await runCli(['--prefix', plainPrefix, 'import', folder, '--json'], { REDIS_URL: h.server.url })
  expect(result.code, result.stderr).toBe(0)
  plain = JSON.parse(result.stdout)
  expect(plain.transfersAdded).toBeGreaterThan(2_100)
  expect(await h.redis.strlen(storeKeys(plainPrefix).node(HUB as Address))).toBe(8 + 2_000 * 35)
}, 60_000)

function startWorker(prefix: string, env: Record<string, string> = {}): { child: ChildProcess; stderr: () => string; ready: Promise<void>; exited: Promise<{ code: number | null; signal: string | null }> } {
  const child = spawn(process.execPath, [BIN, '--prefix', prefix, 'worker', '--queues', 'ingest', '--lock-duration', '1000'], { env: { ...process.env, REDIS_URL: h.server.url, EXPOSURE_PREFIX: undefined, RPC_URL: undefined, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready: ${stderr}`)), 20_000)
    child.stderr!.on('data', () => {
      if (stderr.includes('ingest worker ready')) {
        clearTimeout(timer)
        resolve()
      }
    })
  })
  return { child, stderr: () => stderr, ready, exited }
}

function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const tick = setInterval(() => {
      if (predicate()) {
        clearInterval(tick)
        resolve()
      } else if (Date.now() - started > ms) {
        clearInterval(tick)
        reject(new Error(`timed out waiting for ${what}`))
      }
    }, 50)
  })
}

/**
 * An import through jobs whose only worker dies at `failpoint` (SIGKILL): waits until the import
 * says no worker serves its queue, runs `whileDown`, then starts a rescuer worker; answers the
 * import's stdout once it exited 0.
 */
async function importRescued(prefix: string, failpoint: 'ingest:staged' | 'ingest:prepared', whileDown: () => Promise<void> = async () => undefined): Promise<string> {
  const doomed = startWorker(prefix, { EXPOSURE_FAILPOINT: failpoint })
  await doomed.ready
  const importer = spawn(process.execPath, [BIN, '--prefix', prefix, 'import', folder, '--ingest-workers', '0', '--json'], { env: { ...process.env, REDIS_URL: h.server.url, EXPOSURE_PREFIX: undefined } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  importer.stdout!.on('data', (d) => (stdout += d))
  importer.stderr!.on('data', (d) => (stderr += d))
  const done = new Promise<number | null>((resolve) => importer.once('exit', (code) => resolve(code)))
  expect(await doomed.exited).toEqual({ code: null, signal: 'SIGKILL' })
  expect(doomed.stderr()).toContain(`failpoint ${failpoint}`)
  await whileDown()
  await until(() => stderr.includes('no worker serves the etl ingest queue'), 20_000, `the no-worker note (stderr: ${stderr})`)
  const rescuer = startWorker(prefix)
  try {
    expect(await done, stderr).toBe(0)
  } finally {
    rescuer.child.kill('SIGTERM')
    await rescuer.exited
  }
  return stdout
}

describe('exposure import --ingest-workers', () => {
  it('in-process ingest workers give the store and the summary a plain import gives', async () => {
    const prefix = testPrefix('jobs')
    const result = await runCli(['--prefix', prefix, 'import', folder, '--ingest-workers', '2', '--json'], { REDIS_URL: h.server.url })
    expect(result.code, result.stderr).toBe(0)
    const summary = JSON.parse(result.stdout)
    expect(await content(prefix)).toEqual(await content(plainPrefix))
    for (const field of ['rows', 'transfersCounted', 'transfersAdded', 'tokensPending', 'addresses'] as const) expect(summary[field], field).toBe((plain as Record<string, unknown>)[field])
    expect(summary.files.map((f: { rows: number; transfers: number }) => [f.rows, f.transfers])).toEqual(plain.files.map((f) => [f.rows, f.transfers]))
    expect(await leftovers(prefix)).toEqual([])
    // Again: nothing new, nothing written.
    const again = await runCli(['--prefix', prefix, 'import', folder, '--ingest-workers', '1', '--json'], { REDIS_URL: h.server.url })
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout).changed).toBe(false)
  }, 60_000)

  it('a worker SIGKILLed after staging a job: with no worker left the import says so, and another worker runs the job again; the store equals a plain import', async () => {
    const prefix = testPrefix('killed')
    const summary = JSON.parse(await importRescued(prefix, 'ingest:staged'))
    expect(summary.transfersAdded).toBe(plain.transfersAdded)
    expect(await content(prefix)).toEqual(await content(plainPrefix))
    expect(await leftovers(prefix)).toEqual([])
  }, 90_000)

  it('a bad row in one file refuses the whole import: exit 2 naming file:line and field, nothing reaches the store', async () => {
    const bad = join(h.dir, 'bad')
    await mkdir(bad, { recursive: true })
    const rows = generateEtl(12, { addresses: 30, transactions: 60, blocks: 20 })
    await writeFile(join(bad, 'transactions.csv'), toCsv(rows.transactions, TX_COLUMNS))
    await writeFile(join(bad, 'traces.csv'), toCsv(rows.traces, TRACE_COLUMNS))
    const tokens = rows.tokenTransfers.map((r) => ({ ...r }))
    tokens[Math.min(2, tokens.length - 1)]!.value = '12abc'
    await writeFile(join(bad, 'token_transfers.csv'), toCsv(tokens, TOKEN_COLUMNS))
    const prefix = testPrefix('bad')
    const result = await runCli(['--prefix', prefix, 'import', bad, '--ingest-workers', '2'], { REDIS_URL: h.server.url })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(new RegExp(`token_transfers\\.csv:${Math.min(2, tokens.length - 1) + 2}\\b`))
    expect(result.stderr).toContain('value')
    // Jobs still running when the import was dropped stop at their next batch.
    await new Promise((r) => setTimeout(r, 1_000))
    expect(await h.redis.exists(`${prefix}:meta`)).toBe(0)
    expect((await h.redis.keys(`${prefix}:n:*`)).length).toBe(0)
    expect(await leftovers(prefix)).toEqual([])
  }, 60_000)

  it('large files read as byte ranges by several jobs give the store and the summary a plain import gives', async () => {
    const prefix = testPrefix('ranges')
    const result = await runCli(['--prefix', prefix, 'import', folder, '--ingest-workers', '2', '--ingest-range', '2KiB', '--json'], { REDIS_URL: h.server.url })
    expect(result.code, result.stderr).toBe(0)
    const summary = JSON.parse(result.stdout)
    // 5 files, one of them gzipped (whole); the others cut into 2 KiB ranges.
    expect(summary.jobs).toBeGreaterThan(10)
    expect(await content(prefix)).toEqual(await content(plainPrefix))
    for (const field of ['rows', 'transfersCounted', 'transfersAdded', 'tokensPending', 'addresses'] as const) expect(summary[field], field).toBe((plain as Record<string, unknown>)[field])
    expect(summary.files.map((f: { file: string; rows: number; transfers: number }) => [f.file, f.rows, f.transfers])).toEqual(plain.files.map((f) => [f.file, f.rows, f.transfers]))
    expect(await leftovers(prefix)).toEqual([])
  }, 60_000)

  it('a bad row deep in a byte range is named by its line in the file, past quoted fields that hold line breaks, as a plain import names it', async () => {
    const bad = join(h.dir, 'bad-range')
    await mkdir(bad, { recursive: true })
    const rows = generateEtl(14, { addresses: 40, transactions: 240, blocks: 30 })
    const broken = Math.floor(rows.transactions.length * 0.8)
    const lines = toCsv(rows.transactions.map((r, i) => (i === broken ? { ...r, value: '12abc' } : r)), TX_COLUMNS).trimEnd().split('\n')
    // A column the importer does not read, quoted over two lines in every third row.
    const note = '"first line\nsecond, ""quoted"""'
    const text = [`${lines[0]},note`, ...lines.slice(1).map((line, i) => `${line},${i % 3 === 0 ? note : 'one line'}`)].join('\n') + '\n'
    await writeFile(join(bad, 'transactions.csv'), text)
    const expectedLine = 2 + broken + Math.ceil(broken / 3)
    const jobs = await runCli(['--prefix', testPrefix('badrange'), 'import', bad, '--ingest-workers', '2', '--ingest-range', '1k'], { REDIS_URL: h.server.url })
    const whole = await runCli(['--prefix', testPrefix('badwhole'), 'import', bad], { REDIS_URL: h.server.url })
    expect(whole.code, whole.stderr).toBe(2)
    expect(whole.stderr).toMatch(new RegExp(`transactions\\.csv:${expectedLine}\\b`))
    expect(jobs.code, jobs.stderr).toBe(2)
    expect(jobs.stderr).toMatch(new RegExp(`transactions\\.csv:${expectedLine}\\b`))
    expect(jobs.stderr).toContain('value')
    // Without the bad row the ranges import what a plain import does.
    await writeFile(join(bad, 'transactions.csv'), text.replace(',12abc,', `,${rows.transactions[broken]!.value},`))
    const prefixes = [testPrefix('goodrange'), testPrefix('goodwhole')]
    const ranged = await runCli(['--prefix', prefixes[0]!, 'import', bad, '--ingest-workers', '2', '--ingest-range', '1k', '--json'], { REDIS_URL: h.server.url })
    expect(ranged.code, ranged.stderr).toBe(0)
    expect(JSON.parse(ranged.stdout).jobs).toBeGreaterThan(20)
    expect((await runCli(['--prefix', prefixes[1]!, 'import', bad], { REDIS_URL: h.server.url })).code).toBe(0)
    expect(await content(prefixes[0]!)).toEqual(await content(prefixes[1]!))
  }, 60_000)

  it('a worker SIGKILLed after writing a prepare job\'s journal parts: another worker runs the job again and the store equals a plain import', async () => {
    const prefix = testPrefix('prepkill')
    // It read every file, then died in the commit's first prepare job, after writing its parts.
    const stdout = await importRescued(prefix, 'ingest:prepared', async () => {
      expect((await h.redis.keys(`${partitionGlob(prefix)}:journal:*`)).length).toBeGreaterThan(0)
    })
    expect(JSON.parse(stdout).transfersAdded).toBe(plain.transfersAdded)
    expect(await content(prefix)).toEqual(await content(plainPrefix))
    expect(await leftovers(prefix)).toEqual([])
  }, 90_000)

  it('a prepare job of a commit attempt that has ended writes nothing; the import commits later under a new attempt, equal to one prepared in process', async () => {
    const listedTokens = [USDT as Address]
    const files = await resolveEtlFiles([folder])
    async function staged(name: string): Promise<{ store: GraphStore; prefix: string; id: string }> {
      const prefix = testPrefix(name)
      const store = createGraphStore(h.redis, prefix)
      const assetIds = await store.internAssets([ETH, ...listedTokens] as Asset[])
      const id = `etl${name}`
      await store.beginImport(id, 'etl', name)
      await stageEtlFiles(store, id, files, assetIds, { listedTokens })
      return { store, prefix, id }
    }
    const here = await staged('prephere')
    await here.store.commit(here.id)
    const there = await staged('prepthere')
    const all = Array.from({ length: PARTITIONS }, (_, p) => p)
    // First attempt: half the partitions prepared, then the "jobs" fail.
    let ended = ''
    await expect(
      there.store.commit(there.id, {
        prepare: async (attempt) => {
          ended = attempt
          await there.store.imports.prepareForAttempt(there.id, attempt, all.slice(0, PARTITIONS / 2))
          throw new Error('a prepare job failed for good')
        },
      }),
    ).rejects.toThrow('a prepare job failed for good')
    // Its late jobs: refused before they read anything, and at the write itself.
    await expect(there.store.imports.prepareForAttempt(there.id, ended, all.slice(PARTITIONS / 2))).rejects.toMatchObject({ code: 'IMPORT_GONE' })
    // (a partition the failed attempt did not reach: those it reached keep their parts and lists until the next attempt's jobs write theirs)
    const stray = there.store.keys.journal(there.id, `200.0.${ended}`)
    expect(await callScript(h.redis, 'write-part', [there.store.keys.importAttempt(there.id, 200), stray], [ended, 'hash', 'n00', 'x'])).toBe(0)
    expect(await callScript(h.redis, 'write-part', [there.store.keys.importAttempt(there.id, 200), there.store.keys.importTouched(there.id, 200)], [ended, 'string', 'x'])).toBe(0)
    expect(await h.redis.exists(there.store.keys.importTouched(there.id, 200))).toBe(0)
    expect(await callScript(h.redis, 'list-part', [there.store.keys.importRecord(there.id), there.store.keys.journal(there.id, 'parts')], [ended, stray])).toBe(0)
    expect(await h.redis.exists(stray)).toBe(0)
    // Second attempt: every partition twice (a duplicate job writes the same parts again), and a
    // job of the first attempt coming back in between.
    let current = ''
    const result = await there.store.commit(there.id, {
      prepare: async (attempt) => {
        current = attempt
        const answered: PreparedPartition[] = await there.store.imports.prepareForAttempt(there.id, attempt, all)
        await expect(there.store.imports.prepareForAttempt(there.id, ended, [3])).rejects.toMatchObject({ code: 'IMPORT_GONE' })
        await there.store.imports.prepareForAttempt(there.id, attempt, all.slice(0, 40))
        return answered
      },
    })
    expect(current).not.toBe(ended)
    expect(result.changed).toBe(true)
    expect(await content(there.prefix)).toEqual(await content(here.prefix))
    expect(await leftovers(there.prefix)).toEqual([])
    await expect(there.store.imports.prepareForAttempt(there.id, current, [0])).rejects.toMatchObject({ code: 'IMPORT_GONE' })
    expect(await leftovers(there.prefix)).toEqual([])
  }, 60_000)

  it('--ingest-workers is a count; a worker without a node serves etl ingest jobs', async () => {
    const wrong = await runCli(['import', folder, '--ingest-workers', 'many'], { REDIS_URL: h.server.url })
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toContain('--ingest-workers')
    const size = await runCli(['import', folder, '--ingest-workers', '1', '--ingest-range', 'big'], { REDIS_URL: h.server.url })
    expect(size.code).toBe(2)
    expect(size.stderr).toContain('--ingest-range')
    const alone = await runCli(['import', folder, '--ingest-range', '64MiB'], { REDIS_URL: h.server.url })
    expect(alone.code).toBe(2)
    expect(alone.stderr).toContain('--ingest-workers')
    const worker = startWorker(testPrefix('nonode'))
    await worker.ready
    expect(worker.stderr()).toContain('etl files only')
    worker.child.kill('SIGTERM')
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  }, 30_000)
})
