import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { storeGlobs } from '../../src/store/partitions.ts'
import { TOKEN_COLUMNS, TRACE_COLUMNS, TX_COLUMNS, toCsv, type EtlRows } from './etl-rows.ts'
import { startRedis, type TestRedis } from './redis-server.ts'

/** What a test file gets from {@link useRedisAndTempDir}: valid inside tests (after beforeAll). */
export interface Harness {
  server: TestRedis
  redis: Redis
  dir: string
}

/**
 * Registers the usual per-file setup: a private redis-server, a connection to it and a temporary
 * folder, all torn down after the file.
 */
export function useRedisAndTempDir(name: string): Harness {
  const harness = {} as Harness
  beforeAll(async () => {
    harness.server = await startRedis()
    harness.redis = await connectRedis(harness.server.url)
    harness.dir = await mkdtemp(join(tmpdir(), `${name}-`))
  })
  afterAll(async () => {
    harness.redis?.disconnect()
    await harness.server?.stop()
    if (harness.dir) await rm(harness.dir, { recursive: true, force: true })
  })
  return harness
}

/** Writes generated etl rows as the three CSV files into a new folder under `dir`. */
export async function writeEtlFolder(dir: string, name: string, rows: EtlRows): Promise<string> {
  const folder = join(dir, `${name}-${Math.random().toString(36).slice(2, 8)}`)
  await mkdir(folder, { recursive: true })
  await writeFile(join(folder, 'transactions.csv'), toCsv(rows.transactions, TX_COLUMNS))
  await writeFile(join(folder, 'traces.csv'), toCsv(rows.traces, TRACE_COLUMNS))
  await writeFile(join(folder, 'token_transfers.csv'), toCsv(rows.tokenTransfers, TOKEN_COLUMNS))
  return folder
}

/** Deletes every key of a test's store prefix. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  for (const glob of storeGlobs(prefix)) {
    const keys = await redis.keys(glob)
    if (keys.length > 0) await redis.del(...keys)
  }
}
