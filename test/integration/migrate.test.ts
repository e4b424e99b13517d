/**
 * `exposure migrate` (src/store/migrate.ts) on a store in format 3's layout: the per-block state
 * (tx index, waiting token transfers, block times) under the prefix's tag. A store imported by
 * this version is put back into that layout key by key (format 3 differs in nothing else), then:
 * every other command refuses it, naming the migration; the migration, run over the remains of an
 * interrupted one, moves every field; and the migrated store goes on as if it had been imported
 * in format 4: a later import joins its waiting token transfers to their transactions, and the
 * answers (witness timestamps included) equal those of a store imported whole by this version.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { beforeAll, describe, expect, it } from 'vitest'
import { storeKeys } from '../../src/store/keys.ts'
import { bucketOfBlock, partitionGlob } from '../../src/store/partitions.ts'
import { runCli } from '../support/cli.ts'
import { TOKEN_COLUMNS, TRACE_COLUMNS, TX_COLUMNS, toCsv } from '../support/etl-rows.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { generateEtl } from '../support/random-etl.ts'
import { testPrefix } from '../support/redis-server.ts'

const h = useRedisAndTempDir('migrate')
let first: string
let second: string
let seedsFile: string
let addressesFile: string

const FAMILIES = { txi: 'txi', ptok: 'ptok', bt: 'blocktime' } as const

beforeAll(async () => {
  const rows = generateEtl(41, { addresses: 80, transactions: 400, blocks: 60 })
  // Blocks 1,009 apart (in the same order): the per-block state fills ~60 buckets on many partitions.
  const spread = <T extends { block_number: string }>(r: T): T => ({ ...r, block_number: String(Number(r.block_number) * 1009) })
  const transactions = rows.transactions.map(spread)
  const traces = rows.traces.map(spread)
  const cut = Number(transactions[Math.floor(transactions.length / 2)]!.block_number)
  // The first import brings every token transfer, but only the first half's transactions: the
  // second half's token transfers wait in the store for theirs.
  first = join(h.dir, 'first.d')
  second = join(h.dir, 'second.d')
  for (const [dir, keep] of [[first, (b: number) => b < cut], [second, (b: number) => b >= cut]] as const) {
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'transactions.csv'), toCsv(transactions.filter((t) => keep(Number(t.block_number))), TX_COLUMNS))
    await writeFile(join(dir, 'traces.csv'), toCsv(traces.filter((t) => keep(Number(t.block_number))), TRACE_COLUMNS))
  }
  await writeFile(join(first, 'token_transfers.csv'), toCsv(rows.tokenTransfers.map(spread), TOKEN_COLUMNS))
  seedsFile = join(h.dir, 'seeds.csv')
  await writeFile(seedsFile, `address,label,source\n${rows.seeds.map((s, i) => `${s},seed ${i},migrate test`).join('\n')}\n`)
  const addresses = new Set<string>()
  for (const t of rows.transactions) for (const a of [t.from_address, t.to_address]) if (a) addresses.add(a)
  addressesFile = join(h.dir, 'addresses.txt')
  await writeFile(addressesFile, [...addresses].join('\n') + '\n')
}, 60_000)

async function cli(prefix: string, args: string[]) {
  return runCli(['--redis-url', h.server.url, '--prefix', prefix, ...args])
}

async function ok(prefix: string, args: string[]): Promise<string> {
  const result = await cli(prefix, args)
  expect(result.code, `exposure ${args.join(' ')}\n${result.stderr}`).toBe(0)
  return result.stdout
}

/** check --json of every address, without what names the run. */
async function answers(prefix: string): Promise<unknown[]> {
  return (JSON.parse(await ok(prefix, ['check', '--file', addressesFile, '--json'])) as Record<string, unknown>[]).map(({ walk: _walk, ...rest }) => rest)
}

/** The per-block state in format 4's layout: family → block → value (hex). */
async function perBlockState(redis: Redis, prefix: string): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {}
  for (const family of Object.keys(FAMILIES)) {
    out[family] = {}
    for (const key of await redis.keys(`${partitionGlob(prefix)}:${family}:*`)) {
      for (const [field, value] of Object.entries(await redis.hgetallBuffer(key))) out[family]![field] = value.toString('hex')
    }
  }
  return out
}

/** Puts a format 4 store's per-block state into format 3's layout (one family of hashes each under the prefix's tag) and marks it format 3. */
async function toFormat3(redis: Redis, prefix: string): Promise<void> {
  for (const [family, old] of Object.entries(FAMILIES)) {
    for (const key of await redis.keys(`${partitionGlob(prefix)}:${family}:*`)) {
      for (const [field, value] of Object.entries(await redis.hgetallBuffer(key))) {
        await redis.hset(family === 'bt' ? `${prefix}:${old}` : `${prefix}:${old}:${bucketOfBlock(Number(field))}`, field, value)
      }
      await redis.del(key)
    }
  }
  await redis.hset(`${prefix}:meta`, 'format', '3')
}

describe('exposure migrate', () => {
  it('moves a format 3 store’s per-block state under the partition tags, over an interrupted run, and the store goes on as one imported in format 4', async () => {
    const redis = h.redis
    const reference = testPrefix('whole')
    for (const args of [['import', first], ['import', second], ['seeds', 'import', seedsFile], ['trace']]) await ok(reference, args)
    const expected = await answers(reference)
    expect(expected.filter((a) => (a as { downstream: unknown }).downstream !== null).length).toBeGreaterThan(5)

    const prefix = testPrefix('old')
    for (const args of [['import', first], ['seeds', 'import', seedsFile]]) await ok(prefix, args)
    const before = await perBlockState(redis, prefix)
    for (const family of Object.keys(FAMILIES)) expect(Object.keys(before[family]!).length, family).toBeGreaterThan(5)
    await toFormat3(redis, prefix)
    expect(await redis.keys(`${partitionGlob(prefix)}:txi:*`)).toEqual([])

    // Every command refuses format 3, naming the migration, and writes nothing.
    for (const args of [['check', '--file', addressesFile], ['import', second], ['trace']]) {
      const refused = await cli(prefix, args)
      expect(refused.code, args[0]).toBe(2)
      expect(refused.stderr, args[0]).toMatch(/store format 3, this version reads and writes 4/)
      expect(refused.stderr, args[0]).toMatch(/'exposure migrate' brings it to this version in place/)
    }

    // The remains of an interrupted migration: half of the block times copied, none deleted yet.
    const keys = storeKeys(prefix)
    const blockTimes = Object.entries(await redis.hgetall(`${prefix}:blocktime`))
    for (const [block, time] of blockTimes.slice(0, blockTimes.length / 2)) await redis.hset(keys.blockTime(Number(block)), block, time)

    const migrated = await ok(prefix, ['migrate'])
    expect(migrated).toMatch(new RegExp(`migrated from format 3 to 4: ${Object.keys(before.txi!).length} blocks of tx index, ${Object.keys(before.ptok!).length} of waiting token transfers and ${blockTimes.length} block times moved`))
    expect(await perBlockState(redis, prefix)).toEqual(before)
    expect([...(await redis.keys(`${prefix}:txi:*`)), ...(await redis.keys(`${prefix}:ptok:*`)), ...(await redis.keys(`${prefix}:blocktime`))]).toEqual([])
    expect(await redis.hget(`${prefix}:meta`, 'format')).toBe('4')
    expect(await ok(prefix, ['migrate'])).toMatch(/is at format 4: nothing to migrate/)

    // The waiting token transfers meet their transactions in the next import, and every answer
    // (witness block times included) is the whole store's.
    await ok(prefix, ['import', second])
    expect(await redis.keys(`${partitionGlob(prefix)}:ptok:*`)).toEqual([])
    await ok(prefix, ['trace'])
    expect(await answers(prefix)).toEqual(expected)
  }, 180_000)

  it('refuses a store with an unfinished import (staged in the old layout) and one older than format 3, moving nothing', async () => {
    const redis = h.redis
    const prefix = testPrefix('busy')
    await ok(prefix, ['import', first])
    await toFormat3(redis, prefix)
    await redis.zadd(`${prefix}:imports`, Date.now(), 'etl-unfinished')
    const busy = await cli(prefix, ['migrate'])
    expect(busy.code).toBe(1)
    expect(busy.stderr).toMatch(/unfinished imports \(etl-unfinished\)/)
    expect((await redis.keys(`${prefix}:txi:*`)).length).toBeGreaterThan(5)
    expect(await redis.keys(`${partitionGlob(prefix)}:txi:*`)).toEqual([])
    expect(await redis.hget(`${prefix}:meta`, 'format')).toBe('3')

    await redis.hset(`${prefix}:meta`, 'format', '2')
    const old = await cli(prefix, ['migrate'])
    expect(old.code).toBe(2)
    expect(old.stderr).toMatch(/format 2; only format 3 can be migrated to 4 in place/)
  }, 60_000)
})
