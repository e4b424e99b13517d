/**
 * Issue 7, imports: every finding reproduced against real processes and a real redis-server.
 * An import commits exactly once: interrupted anywhere (SIGINT, SIGKILL at each step, maxmemory,
 * a second import at the same time) the store holds none or all of it; token transfers join
 * their transactions in any order and any split into commands; a no-op import changes nothing.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { importEtl } from '../../src/sources/etl-import.ts'
import { isExposureError } from '../../src/errors.ts'
import { isOutOfMemory, storeError } from '../../src/store/memory.ts'
import type { Address } from '../../src/types.ts'
import { BIN, runCli } from '../support/cli.ts'
import { TOKEN_COLUMNS, TX_COLUMNS, toCsv } from '../support/etl-rows.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'
import { generateEtl } from '../support/random-etl.ts'
import { startRedis, testPrefix } from '../support/redis-server.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'
import { partitionGlob } from '../../src/store/partitions.ts'
import { generatePowerLawGraph } from '../../bench/power-law-graph.ts'

const harness = useRedisAndTempDir('integrity-import')

/** The graph part of a store: node strings, tx maps, waiting token transfers, block times, exact amounts. */
async function graphSnapshot(redis: Redis, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const [k, v] of await adjacencySnapshot(redis, prefix)) out[k] = v
  // Per-block state lives under the partition tags (keys.ts): named here without the tag.
  for (const pattern of [':txi:*', ':ptok:*', ':bt:*']) {
    for (const key of await redis.keys(`${partitionGlob(prefix)}${pattern}`)) {
      const all = await redis.hgetallBuffer(key)
      for (const [field, value] of Object.entries(all)) out[`${key.slice(key.indexOf('}') + 1)}/${field}`] = value.toString('hex')
    }
  }
  for (const key of [':amounts']) for (const [field, value] of Object.entries(await redis.hgetall(`${prefix}${key}`))) out[`${key}/${field}`] = value
  const meta = await redis.hmget(`${prefix}:meta`, 'transfers', 'addresses')
  out.meta = meta.join('/')
  return out
}

/** Keys an import may leave behind if it is not finished properly. */
async function leftovers(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  // Staging and node journal parts live under the partitions' tags too (keys.ts).
  for (const tag of [prefix, partitionGlob(prefix)]) keys.push(...(await redis.keys(`${tag}:stage:*`)), ...(await redis.keys(`${tag}:journal:*`)))
  // Import records, and the partitions' live markers a cluster writes (keys.ts).
  for (const tag of [prefix, partitionGlob(prefix)]) keys.push(...(await redis.keys(`${tag}:import:*`)))
  keys.push(...(await redis.keys(`${prefix}:lock:*`)))
  if ((await redis.zcard(`${prefix}:imports`)) > 0) keys.push(`${prefix}:imports`)
  return keys.sort()
}

async function folderOf(seed: number, name: string): Promise<{ folder: string; listed: Address }> {
  const etl = generateEtl(seed)
  return { folder: await writeEtlFolder(harness.dir, name, etl), listed: etl.listedToken as Address }
}

/** The reference: the same folder imported into a fresh prefix in one go. */
async function cleanImport(folder: string, listed: Address): Promise<Record<string, string>> {
  const prefix = testPrefix('clean')
  await importEtl(createGraphStore(harness.redis, prefix), [folder], { listedTokens: [listed] })
  const snapshot = await graphSnapshot(harness.redis, prefix)
  await dropPrefix(harness.redis, prefix)
  return snapshot
}

const cli = (prefix: string, args: string[], env: Record<string, string> = {}) => runCli(['--redis-url', harness.server.url, '--prefix', prefix, ...args], env)

describe('imports commit exactly once', () => {
  it('SIGKILL at every step of an import: the next command finds none or all of it, and says so', async () => {
    // With a hub of 3,000 incoming transfers (a 105 KB node): its new value is a journal part of
    // its own, moved into place by RENAME when the journal is applied (commit.ts).
    const etl = generateEtl(101)
    const hub = `0x${'be'.repeat(20)}`
    const last = Math.max(...etl.transactions.map((t) => Number(t.block_number)))
    for (let i = 0; i < 3_000; i++) {
      const block = last + 1 + Math.floor(i / 100)
      etl.transactions.push({ hash: `0x${(0xbe000000 + i).toString(16).padStart(64, '0')}`, nonce: '0', block_hash: `0x${block.toString(16).padStart(64, '0')}`, block_number: String(block), transaction_index: String(i % 100), from_address: `0x${((i * 7919) % 256).toString(16).padStart(2, '0')}${(0xbe0000 + i).toString(16).padStart(38, '0')}`, to_address: hub, value: '1000', gas: '21000', gas_price: '1', input: '0x', block_timestamp: String(1_700_000_000 + block * 12), receipt_status: '1' })
    }
    const folder = await writeEtlFolder(harness.dir, 'kill', etl)
    const listed = etl.listedToken as Address
    const full = await cleanImport(folder, listed)
    expect(full[`:n:${hub.slice(2)}`]?.length ?? 0, 'the hub is in the clean import').toBeGreaterThan(2 * 3_000 * 35)
    const env = { EXPOSURE_ASSETS: listed }
    for (const point of ['import:staged', 'commit:prepared', 'commit:point', 'commit:half-applied'] as const) {
      const prefix = testPrefix('kill')
      const killed = await cli(prefix, ['import', folder], { ...env, EXPOSURE_FAILPOINT: point })
      expect(killed.code, point).toBe(null) // killed by SIGKILL
      // The next command that touches the store brings the import to an end.
      if (point === 'commit:prepared') expect(await harness.redis.keys(`${partitionGlob(prefix)}:journal:*.v${hub.slice(2)}`), 'the hub journaled as a part of its own').toHaveLength(1)
      const status = await cli(prefix, ['status', '--json'], env)
      expect(status.code, `${point}: ${status.stderr}`).toBe(0)
      const after = await graphSnapshot(harness.redis, prefix)
      if (point === 'commit:point' || point === 'commit:half-applied') {
        // Past the commit point: finished by recovery, equal to a clean import.
        expect(status.stderr, point).toMatch(/finished import etl\w+ .*interrupted after its commit point/)
        expect(after, point).toEqual(full)
        expect(await leftovers(harness.redis, prefix), point).toEqual([])
      } else {
        // Before it: nothing of the import is in the store; it waits for --resume or --abort.
        expect(after.meta, point).toBe('/')
        expect(Object.keys(after).filter((k) => k.startsWith(':n:')), point).toEqual([])
        expect(status.stderr, point).toMatch(/import --resume etl\w+/)
        const listedImports = (JSON.parse(status.stdout) as { imports: { state: string; alive: boolean }[] }).imports
        expect(listedImports, point).toEqual([expect.objectContaining({ state: 'staged', alive: false })])
        const resumed = await cli(prefix, ['import', '--resume'], env)
        expect(resumed.code, `${point}: ${resumed.stderr}`).toBe(0)
        expect(await graphSnapshot(harness.redis, prefix), point).toEqual(full)
        expect(await leftovers(harness.redis, prefix), point).toEqual([])
      }
      await dropPrefix(harness.redis, prefix)
    }
  })

  it('--abort drops an interrupted import; a later import of the same files is whole', async () => {
    const { folder, listed } = await folderOf(102, 'abort')
    const full = await cleanImport(folder, listed)
    const prefix = testPrefix('abort')
    const env = { EXPOSURE_ASSETS: listed }
    expect((await cli(prefix, ['import', folder], { ...env, EXPOSURE_FAILPOINT: 'commit:prepared' })).code).toBe(null)
    const aborted = await cli(prefix, ['import', '--abort'], env)
    expect(aborted.code, aborted.stderr).toBe(0)
    expect(aborted.stdout).toMatch(/dropped import etl\w+: nothing of it is in the store/)
    expect(await leftovers(harness.redis, prefix)).toEqual([])
    expect((await cli(prefix, ['import', folder], env)).code).toBe(0)
    expect(await graphSnapshot(harness.redis, prefix)).toEqual(full)
    await dropPrefix(harness.redis, prefix)
  })

  it('SIGINT while reading or committing: exit 130, nothing in the store, nothing left behind, the lock free at once', async () => {
    const folder = join(harness.dir, 'sigint')
    await generatePowerLawGraph(folder, { seed: 103, transfers: 40_000, addresses: 8_000 })
    for (const delay of [400, 1_500, 2_600]) {
      const prefix = testPrefix('int')
      const child = spawn(process.execPath, [BIN, '--redis-url', harness.server.url, '--prefix', prefix, 'import', folder], { env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve))
      setTimeout(() => child.kill('SIGINT'), delay)
      const code = await exited
      const snapshot = await graphSnapshot(harness.redis, prefix)
      if (code === 0) {
        // The import finished before the signal: all of it.
        expect(snapshot.meta).not.toBe('/')
      } else if (code === null) {
        // The signal came before the CLI installed its handlers (still starting): nothing was read.
        expect(child.signalCode).toBe('SIGINT')
        expect(snapshot.meta).toBe('/')
      } else {
        expect(code, stderr).toBe(130)
        expect(snapshot.meta, stderr).toBe('/')
        expect(stderr).not.toMatch(/\n\s+at /) // no stack trace
      }
      expect(await leftovers(harness.redis, prefix)).toEqual([])
      // A new import runs at once (no lock left to wait for).
      const again = await cli(prefix, ['import', folder])
      expect(again.code, again.stderr).toBe(0)
      expect(again.stderr).not.toMatch(/waiting/)
      await dropPrefix(harness.redis, prefix)
    }
  })

  it('two imports at once both succeed: the second waits for the first commit and says so', async () => {
    const a = await folderOf(104, 'two-a')
    const b = generateEtl(105)
    b.listedToken = a.listed
    const folderB = await writeEtlFolder(harness.dir, 'two-b', b)
    const prefix = testPrefix('two')
    const env = { EXPOSURE_ASSETS: a.listed }
    const [first, second] = await Promise.all([cli(prefix, ['import', a.folder], env), cli(prefix, ['import', folderB], env)])
    expect(first.code, first.stderr).toBe(0)
    expect(second.code, second.stderr).toBe(0)
    const both = testPrefix('both')
    const store = createGraphStore(harness.redis, both)
    await importEtl(store, [a.folder], { listedTokens: [a.listed] })
    await importEtl(store, [folderB], { listedTokens: [a.listed] })
    expect(await graphSnapshot(harness.redis, prefix)).toEqual(await graphSnapshot(harness.redis, both))
    expect(await leftovers(harness.redis, prefix)).toEqual([])
    await dropPrefix(harness.redis, prefix)
    await dropPrefix(harness.redis, both)
  })

  it('maxmemory too small for the commit: refused before it writes, naming maxmemory and the bytes needed; the store intact; --resume after raising it', async () => {
    const server = await startRedis()
    const redis = new Redis(server.url)
    try {
      const { folder, listed } = await folderOf(106, 'oom')
      const more = generateEtl(107)
      more.listedToken = listed
      const folder2 = await writeEtlFolder(harness.dir, 'oom2', more)
      const prefix = testPrefix('oom')
      const run = (args: string[], env: Record<string, string> = {}) => runCli(['--redis-url', server.url, '--prefix', prefix, ...args], { EXPOSURE_ASSETS: listed, ...env })
      expect((await run(['import', folder])).code).toBe(0)
      const before = await graphSnapshot(redis, prefix)
      // The second import is read and staged, then its process dies: it waits for --resume.
      expect((await run(['import', folder2], { EXPOSURE_FAILPOINT: 'import:staged' })).code).toBe(null)
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1])
      await redis.config('SET', 'maxmemory', String(Math.ceil((used + 20_000) / 0.95)))
      const refused = await run(['import', '--resume'])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/not enough Redis memory for the commit .*needs about .* maxmemory/)
      expect(refused.stderr).not.toMatch(/\n\s+at /)
      expect(await graphSnapshot(redis, prefix)).toEqual(before)
      await redis.config('SET', 'maxmemory', '0')
      const resumed = await run(['import', '--resume'])
      expect(resumed.code, resumed.stderr).toBe(0)
      const expected = testPrefix('oom-ref')
      const ref = createGraphStore(redis, expected)
      await importEtl(ref, [folder], { listedTokens: [listed] })
      await importEtl(ref, [folder2], { listedTokens: [listed] })
      expect(await graphSnapshot(redis, prefix)).toEqual(await graphSnapshot(redis, expected))
    } finally {
      redis.disconnect()
      await server.stop()
    }
  })

  it('Redis out of memory while staging: one clear line, exit 1, nothing staged or written', async () => {
    const server = await startRedis()
    const redis = new Redis(server.url)
    try {
      const folder = join(harness.dir, 'oom-stage')
      await generatePowerLawGraph(folder, { seed: 108, transfers: 40_000, addresses: 8_000 })
      const prefix = testPrefix('oomstage')
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1])
      await redis.config('SET', 'maxmemory', String(used + 300_000))
      const result = await runCli(['--redis-url', server.url, '--prefix', prefix, 'import', folder])
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/out of memory|not enough Redis memory/)
      expect(result.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1)
      expect(result.stderr).not.toMatch(/\n\s+at /)
      await redis.config('SET', 'maxmemory', '0')
      expect(await leftovers(redis, prefix)).toEqual([])
      expect(await redis.keys(`${prefix}:n:*`)).toEqual([])
    } finally {
      redis.disconnect()
      await server.stop()
    }
  })

  it('a hub past what one Redis value holds (proto-max-bulk-len): the commit is refused naming the address, the store intact; --resume after raising it; a staging past it refuses the import', async () => {
    const server = await startRedis()
    const redis = new Redis(server.url)
    const hub = `0x${'bb'.repeat(20)}`
    let counter = 0
    /** A folder of `n` ETH transactions to the hub from fresh senders (spread over the partitions), 100 per block. */
    const toHub = async (name: string, n: number): Promise<string> => {
      const folder = join(harness.dir, name)
      await mkdir(folder, { recursive: true })
      const rows = Array.from({ length: n }, () => {
        const i = ++counter
        const block = 1_000 + Math.floor(i / 100)
        return { hash: `0x${i.toString(16).padStart(64, '0')}`, nonce: '0', block_hash: `0x${block.toString(16).padStart(64, '0')}`, block_number: String(block), transaction_index: String(i % 100), from_address: `0x${((i * 7919) % 256).toString(16).padStart(2, '0')}${i.toString(16).padStart(38, '0')}`, to_address: hub, value: '1000', gas: '21000', gas_price: '1', input: '0x', block_timestamp: String(1_700_000_000 + block * 12), receipt_status: '1' }
      })
      await writeFile(join(folder, 'transactions.csv'), toCsv(rows, TX_COLUMNS))
      return folder
    }
    try {
      // Redis' smallest cap, 1 MiB: a node of ~30,000 incoming transfers (35 bytes each).
      await redis.config('SET', 'proto-max-bulk-len', '1mb')
      const [first, second, third] = [await toHub('hub1', 15_000), await toHub('hub2', 15_000), await toHub('hub3', 20_000)]
      const prefix = testPrefix('hub')
      const run = (args: string[]) => runCli(['--redis-url', server.url, '--prefix', prefix, ...args])
      expect((await run(['import', first])).code).toBe(0)
      const before = await graphSnapshot(redis, prefix)
      const refused = await run(['import', second])
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(new RegExp(`the node of ${hub} would take 1\\.0 MiB \\(0 outgoing and 30000 incoming transfers\\), more than one Redis value may hold \\(proto-max-bulk-len 1\\.0 MiB\\): nothing of import \\S+ reached the store; raise proto-max-bulk-len`))
      expect(refused.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1)
      expect(await graphSnapshot(redis, prefix)).toEqual(before)
      await redis.config('SET', 'proto-max-bulk-len', '4mb')
      const resumed = await run(['import', '--resume'])
      expect(resumed.code, resumed.stderr).toBe(0)
      expect(await leftovers(redis, prefix)).toEqual([])
      expect(await redis.strlen(`${partitionGlob(prefix).replace('[0-9a-f][0-9a-f]', 'bb')}:n:${hub.slice(2)}`)).toBe(8 + 30_000 * 35)
      const expected = testPrefix('hub-ref')
      const ref = createGraphStore(redis, expected)
      await importEtl(ref, [first], { listedTokens: [] })
      await importEtl(ref, [second], { listedTokens: [] })
      expect(await graphSnapshot(redis, prefix)).toEqual(await graphSnapshot(redis, expected))

      // 20,000 transfers to one partition's hub stage 1.1 MB there in one import: Redis refuses the
      // staging string past 1 MiB, and the import is dropped whole.
      await redis.config('SET', 'proto-max-bulk-len', '1mb')
      const after = await graphSnapshot(redis, prefix)
      const staging = await run(['import', third])
      expect(staging.code).toBe(1)
      expect(staging.stderr).toMatch(/Redis refused to grow one value past its proto-max-bulk-len .*nothing of it reached the store; import the files in several commands/)
      expect(staging.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1)
      expect(await leftovers(redis, prefix)).toEqual([])
      expect(await graphSnapshot(redis, prefix)).toEqual(after)
    } finally {
      redis.disconnect()
      await server.stop()
    }
  }, 120_000)

  it('a MULTI that Redis refuses for memory reads as out of memory: its EXECABORT keeps the OOM behind it', async () => {
    const server = await startRedis()
    const redis = new Redis(server.url)
    try {
      const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1])
      await redis.config('SET', 'maxmemory', String(used - 10_000))
      const error = (await redis.multi().rpush('{t}:parts', 'p').set('{t}:part', 'x'.repeat(100_000)).exec().catch((e: unknown) => e)) as Error
      await redis.config('SET', 'maxmemory', '0')
      expect(error.message).toMatch(/EXECABORT/)
      expect(error.message).not.toMatch(/OOM/)
      expect(isOutOfMemory(error)).toBe(true)
      expect(storeError(error, 'commit of import etlx')).toMatchObject({ code: 'STORE_FULL', message: expect.stringMatching(/out of memory .*the commit of import etlx was refused/) })
      expect(await redis.exists('{t}:parts', '{t}:part')).toBe(0)
    } finally {
      redis.disconnect()
      await server.stop()
    }
  })

  it('a no-op re-import changes nothing: same version, same last import time', async () => {
    const { folder, listed } = await folderOf(109, 'noop')
    const prefix = testPrefix('noop')
    const store = createGraphStore(harness.redis, prefix)
    await importEtl(store, [folder], { listedTokens: [listed] })
    const before = await harness.redis.hgetall(`${prefix}:meta`)
    const again = await importEtl(store, [folder], { listedTokens: [listed] })
    expect(again.changed).toBe(false)
    expect(again.transfersAdded).toBe(0)
    expect(await harness.redis.hgetall(`${prefix}:meta`)).toEqual(before)
    await dropPrefix(harness.redis, prefix)
  })

  it('an interrupted commit (signal before the commit point) rejects INTERRUPTED and writes nothing', async () => {
    const { folder, listed } = await folderOf(110, 'signal')
    const prefix = testPrefix('signal')
    const store = createGraphStore(harness.redis, prefix)
    const controller = new AbortController()
    const error = await importEtl(store, [folder], { listedTokens: [listed], signal: controller.signal, onProgress: (p) => p.phase === 'prepare' && p.done === 100 && controller.abort() }).catch((e: unknown) => e)
    expect(isExposureError(error, 'INTERRUPTED')).toBe(true)
    expect((await graphSnapshot(harness.redis, prefix)).meta).toBe('/')
    expect(await leftovers(harness.redis, prefix)).toEqual([])
    await dropPrefix(harness.redis, prefix)
  })
})

describe('token transfers join their transactions in any order and any split into commands', () => {
  async function split(seed: number): Promise<{ txDir: string; tokenDir: string; tracesDir: string; all: string; listed: Address }> {
    const etl = generateEtl(seed)
    const all = await writeEtlFolder(harness.dir, `all${seed}`, etl)
    const make = async (name: string, file: string, text: string) => {
      const dir = join(harness.dir, `${name}${seed}-${Math.random().toString(36).slice(2, 6)}`)
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, file), text)
      return dir
    }
    return {
      all,
      listed: etl.listedToken as Address,
      txDir: await make('tx', 'transactions.csv', toCsv(etl.transactions, TX_COLUMNS)),
      tokenDir: await make('tok', 'token_transfers.csv', toCsv(etl.tokenTransfers, TOKEN_COLUMNS)),
      tracesDir: join(all, 'traces.csv'),
    }
  }

  it('tokens before transactions, transactions before tokens, and each file alone: the same store as one import', async () => {
    for (const seed of [201, 202, 203]) {
      const s = await split(seed)
      const full = await cleanImport(s.all, s.listed)
      expect(Object.keys(full).some((k) => k.startsWith(':n:'))).toBe(true)
      for (const order of [[s.tokenDir, s.txDir, s.tracesDir], [s.txDir, s.tokenDir, s.tracesDir], [s.tracesDir, s.tokenDir, s.txDir]]) {
        const prefix = testPrefix('order')
        const store = createGraphStore(harness.redis, prefix)
        for (const part of order) await importEtl(store, [part], { listedTokens: [s.listed] })
        const snapshot = await graphSnapshot(harness.redis, prefix)
        // The waiting area is empty once every transaction arrived; the rest is byte for byte the one-go import.
        expect(Object.keys(snapshot).filter((k) => k.startsWith(':ptok:')), `seed ${seed}`).toEqual([])
        expect(snapshot, `seed ${seed} order ${order.map((p) => p.split('/').pop()).join(',')}`).toEqual(full)
        await dropPrefix(harness.redis, prefix)
      }
    }
  })

  it('through the CLI: token_transfers.csv imported after transactions.csv in a second command counts every listed transfer', async () => {
    const s = await split(204)
    const prefix = testPrefix('cli-split')
    const env = { EXPOSURE_ASSETS: s.listed }
    expect((await cli(prefix, ['import', s.txDir], env)).code).toBe(0)
    const tokens = await cli(prefix, ['import', '--json', s.tokenDir], env)
    expect(tokens.code, tokens.stderr).toBe(0)
    const summary = JSON.parse(tokens.stdout) as { tokensPending: number; files: { skipped: Record<string, number> }[] }
    expect(summary.tokensPending).toBe(0)
    expect(summary.files[0]!.skipped['unknown-transaction']).toBeUndefined()
    expect((await cli(prefix, ['import', s.tracesDir], env)).code).toBe(0)
    expect(await graphSnapshot(harness.redis, prefix)).toEqual(await cleanImport(s.all, s.listed))
    await dropPrefix(harness.redis, prefix)
  })

  it('tokens first: they wait (status counts them), then join when their transactions arrive', async () => {
    const s = await split(205)
    const prefix = testPrefix('wait')
    const env = { EXPOSURE_ASSETS: s.listed }
    const tokens = await cli(prefix, ['import', '--json', s.tokenDir], env)
    const pending = (JSON.parse(tokens.stdout) as { tokensPending: number }).tokensPending
    expect(pending).toBeGreaterThan(0)
    const status = JSON.parse((await cli(prefix, ['status', '--json'], env)).stdout) as { store: { pendingTokenTransfers: number } }
    expect(status.store.pendingTokenTransfers).toBe(pending)
    const txs = await cli(prefix, ['import', '--json', s.txDir], env)
    expect((JSON.parse(txs.stdout) as { tokensResolved: number }).tokensResolved).toBe(pending)
    const after = JSON.parse((await cli(prefix, ['status', '--json'], env)).stdout) as { store: { pendingTokenTransfers: number } }
    expect(after.store.pendingTokenTransfers).toBe(0)
    await dropPrefix(harness.redis, prefix)
  })
})
