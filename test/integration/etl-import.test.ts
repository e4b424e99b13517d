import { readdir, readFile, mkdtemp, writeFile, copyFile, rm } from 'node:fs/promises'
import { gzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { transfersFromParityTraces, transfersFromLogs } from '../../src/sources/rpc/decode.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import { storeGlobs } from '../../src/store/partitions.ts'
import { storeKeys as keysOf } from '../../src/store/keys.ts'
import { isExposureError } from '../../src/errors.ts'
import type { Address, Transfer } from '../../src/types.ts'
import { DEFAULT_LISTED_TOKENS } from '../../src/sources/assets.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { parse } from 'csv-parse/sync'
import { TRACE_COLUMNS, type TraceRow } from '../support/etl-rows.ts'
import { traceRowTransfer } from '../support/reference-walk.ts'
import { runCli } from '../support/cli.ts'

/**
 * The etl importer on real ethereum-etl rows of mainnet blocks (ethereum-etl's own test
 * resources, copied into fixtures/rpc): the transfers it counts from the CSVs must be exactly the
 * ones the JSON-RPC decoders count from the raw node payloads of the same blocks. One chain, one
 * answer, whichever way it arrives.
 */
const RPC = fileURLToPath(new URL('../../fixtures/rpc/', import.meta.url))
const HAND_TRACES = fileURLToPath(new URL('../../fixtures/etl-traces/', import.meta.url))
let server: TestRedis
let redis: Redis
let work: string

beforeAll(async () => {
  server = await startRedis()
  redis = await connectRedis(server.url)
  work = await mkdtemp(join(tmpdir(), 'etl-import-'))
})
afterAll(async () => {
  redis?.disconnect()
  await server?.stop()
  await rm(work, { recursive: true, force: true })
})

const key = (t: Transfer) => [t.from, t.to, t.amount, t.asset, t.blockNumber, t.transactionIndex, t.txHash, t.kind, t.subIndex].join('|')

async function stored(prefix: string): Promise<string[]> {
  const out: string[] = []
  for await (const t of createGraphStore(redis, prefix).transfers()) out.push(key(t))
  return out.sort()
}

async function folder(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name)
  await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }))
  for (const [target, source] of Object.entries(files)) await copyFile(join(RPC, source), join(dir, target))
  return dir
}

const SKIPPED: Record<string, Record<string, number>> = {
  block_with_subtraces: { 'top-level-trace': 2, 'delegate-or-static-call': 1, 'not-a-call': 1 },
  block_with_error: { 'top-level-trace': 2, 'not-a-call': 1 },
  block_with_create: { 'top-level-trace': 1, 'not-a-call': 2 },
  block_with_suicide: { 'top-level-trace': 1, 'not-a-call': 2 },
}

const jsonLines = async (file: string) => (await readFile(join(RPC, file), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
const csv = (rows: Record<string, unknown>[], columns: string[]) => [columns.join(','), ...rows.map((r) => columns.map((c) => (r[c] === null || r[c] === undefined ? '' : String(r[c]))).join(','))].join('\n')

describe('etl import of real mainnet rows', () => {
  it('blocks 17173049-17173050 (May 2023): ETH transfers and USDT/USDC/DAI/WETH/WBTC logs count exactly as the RPC decoders count them', async () => {
    const dir = join(work, 'stream')
    await import('node:fs/promises').then((fs) => fs.mkdir(dir))
    const base = 'test_stream/blocks_17173049_17173050/'
    const txs = await jsonLines(`${base}expected_transactions.json`)
    await writeFile(join(dir, 'transactions.csv'), csv(txs, ['hash', 'transaction_index', 'from_address', 'to_address', 'value', 'block_number', 'block_timestamp', 'receipt_status']))
    await writeFile(join(dir, 'token_transfers.csv'), csv(await jsonLines(`${base}expected_token_transfers.json`), ['token_address', 'from_address', 'to_address', 'value', 'transaction_hash', 'log_index', 'block_number']))
    const listed = new Set(DEFAULT_LISTED_TOKENS)
    const prefix = testPrefix('s')
    const summary = await importEtl(createGraphStore(redis, prefix), [dir], { listedTokens: DEFAULT_LISTED_TOKENS })
    const ethCounted = txs.filter((t) => t.receipt_status === 1 && BigInt(String(t.value)) > 0n && t.to_address !== null).length
    const logs = (await jsonLines(`${base}expected_logs.json`)).map((l) => ({ logIndex: `0x${Number(l.log_index).toString(16)}`, transactionHash: l.transaction_hash, transactionIndex: `0x${Number(l.transaction_index).toString(16)}`, address: l.address, data: l.data, topics: l.topics, blockNumber: `0x${Number(l.block_number).toString(16)}`, blockHash: l.block_hash }))
    const tokenTransfers = transfersFromLogs(logs as never, listed)
    expect(ethCounted).toBeGreaterThan(50)
    expect(tokenTransfers.length).toBeGreaterThan(20)
    expect(summary.files.find((f) => f.kind === 'transactions')!.transfers).toBe(ethCounted)
    const mine = (await stored(prefix)).filter((k) => k.includes('|log|'))
    expect(mine).toEqual(tokenTransfers.map(key).sort())
    expect(summary.files.find((f) => f.kind === 'token_transfers')!.skipped['unlisted-token']).toBeGreaterThan(0)
  })

  for (const block of ['block_with_subtraces', 'block_with_error', 'block_with_create', 'block_with_suicide']) {
    it(`traces.csv of ${block}: nothing counts (no value-carrying internal call), as trace_block decoding says; every row skipped under its rule`, async () => {
      const dir = await folder(block, { 'traces.csv': `test_export_traces_job/${block}/expected_traces.csv` })
      const prefix = testPrefix('etl')
      const store = createGraphStore(redis, prefix)
      const summary = await importEtl(store, [dir], { listedTokens: [] })
      const json = (await readdir(join(RPC, 'test_export_traces_job', block))).find((f) => f.endsWith('.json'))!
      const raw = JSON.parse(await readFile(join(RPC, 'test_export_traces_job', block, json), 'utf8'))
      const expected = transfersFromParityTraces(raw.result ?? raw).map(key).sort()
      // None of these real blocks has a value-carrying internal call (the hand-built rows below and
      // the anvil tests cover those): what they do have is every kind of row that must not count.
      expect(expected).toEqual([])
      expect(await stored(prefix)).toEqual([])
      expect(summary.transfersCounted).toBe(0)
      expect(summary.files[0]!.skipped).toEqual(SKIPPED[block])
      expect(summary.rows).toBe((await readFile(join(dir, 'traces.csv'), 'utf8')).trim().split('\n').length - 1)
    })
  }

  it('hand-built traces.csv (fixtures/etl-traces): exactly the successful value-carrying calls below the top level count, with hand-written expectations', async () => {
    const dir = join(work, 'hand-traces')
    await import('node:fs/promises').then((fs) => fs.mkdir(dir))
    await copyFile(join(HAND_TRACES, 'traces.csv'), join(dir, 'traces.csv'))
    const prefix = testPrefix('hand')
    const summary = await importEtl(createGraphStore(redis, prefix), [dir], { listedTokens: [] })
    // Written out by hand from the rows (fixtures/etl-traces/PROVENANCE.txt): from, to, amount,
    // asset, block, transaction index, tx hash, kind, sub-index. The sub-index is the documented
    // trace-address rule (src/sources/trace-index.ts): per level a 1, then the index in an
    // order-preserving prefix code (k ones, a zero, k bits of index + 1 − 2^k), padded to 21 bits:
    // "0" → 10 → 1048576, "0,0" → 1010 → 1310720, "6" → 111011 → 1933312, "1" → 1100 → 1572864.
    const t1 = '0x7f1c9bfde7fd33b4db7c0528269e25899c8c10d09e6e3320ebb351d00d7873ca'
    const t3 = '0x81e7f18ad6874d1d86beef0ba11cbf26b373fccbf98a2d17902abd5a5b607c93'
    const splitter = '0xb0e9af73b0b1fb59dc05230e3ca78a1dca32dd2f'
    const w1 = '0xadaa9aaffa460ccd0c404bb5a3168f6c96dbeca5'
    const expected = [
      [splitter, w1, '1000000000000000000', 'ETH', 17000123, 4, t1, 'trace', 1048576],
      [w1, '0x01f1e902be712672ee887a158164e67aef1036b3', '250000000000000000', 'ETH', 17000123, 4, t1, 'trace', 1310720],
      [splitter, '0x099c4bab3085377988e23d7d784c604a19bbfb04', '50000000000000000', 'ETH', 17000123, 4, t1, 'trace', 1933312],
      ['0x9d2690921b0f812637b185725f234947f0ed83cb', '0x22ca2282c55504eeab1cb287670e2e152d8df472', '700000000000000000', 'ETH', 17000124, 0, t3, 'trace', 1572864],
    ].map((fields) => fields.join('|'))
    expect(await stored(prefix)).toEqual(expected.sort())
    expect(summary.transfersCounted).toBe(4)
    expect(summary.rows).toBe(20)
    expect(summary.files[0]!.skipped).toEqual({
      'top-level-trace': 3, // the three transactions' own calls, the reverted one included
      // [1] reverted, [1,0] and [1,0,0] under it; the reverted transaction's [0] and [1]; [0] of the
      // third transaction; its inconsistent error-with-status-1 row
      'errored-call': 7,
      'delegate-or-static-call': 2,
      'zero-value': 1,
      'not-a-call': 3, // create, suicide, reward
    })
    // The test suite's independent reading of the rules agrees on the same rows.
    const records = parse(await readFile(join(dir, 'traces.csv'), 'utf8'), { columns: true }) as Record<string, string>[]
    const reference = records
      .map((r, i) => traceRowTransfer(Object.fromEntries(TRACE_COLUMNS.map((c) => [c, r[c] ?? ''])) as TraceRow, i))
      .filter((t) => t !== null)
      .map((t) => [t.from, t.to, t.amount, t.block, t.txIndex, t.txHash].join('|'))
    expect(reference.sort()).toEqual(expected.map((k) => k.split('|')).map((f) => [f[0], f[1], f[2], f[4], f[5], f[6]].join('|')).sort())
  })

  it('block 483920: receipts.csv joins transactions.csv; pre-Byzantium statuses are empty so nothing counts; unlisted tokens never count, listed ones do', async () => {
    const dir = await folder('483920', {
      'transactions.csv': 'test_export_blocks_job/block_with_logs/expected_transactions.csv',
      'receipts.csv': 'test_export_receipts_job/receipts_with_logs/expected_receipts.csv',
      'token_transfers.csv': 'test_export_token_transfers_job/block_with_transfers/expected_token_transfers.csv',
    })
    const token = '0xf4eced2f682ce333f96f2d8966c613ded8fc95dd' as Address
    const unlisted = await importEtl(createGraphStore(redis, testPrefix('u')), [dir], { listedTokens: [] })
    const byKind = Object.fromEntries(unlisted.files.map((f) => [f.kind, f]))
    expect(byKind.transactions!.transfers).toBe(0)
    expect(byKind.transactions!.skipped.failed).toBe(4)
    expect(byKind.token_transfers!.skipped['unlisted-token']).toBe(byKind.token_transfers!.rows)

    const prefix = testPrefix('l')
    const listed = await importEtl(createGraphStore(redis, prefix), [dir], { listedTokens: [token] })
    const logs = JSON.parse(await readFile(join(RPC, 'test_export_token_transfers_job/block_with_transfers/web3_response.eth_getFilterLogs_0x0.json'), 'utf8'))
    const expected = transfersFromLogs(logs.result ?? logs, new Set([token])).map(key).sort()
    expect(expected.length).toBeGreaterThan(0)
    expect(await stored(prefix)).toEqual(expected)
    expect(listed.transfersCounted).toBe(expected.length)
  })

  it('without receipts, etl transactions have no status: skipped as no-receipt, not guessed', async () => {
    const dir = await folder('no-receipts', { 'transactions.csv': 'test_export_blocks_job/block_with_logs/expected_transactions.csv' })
    const summary = await importEtl(createGraphStore(redis, testPrefix('n')), [dir], { listedTokens: [] })
    expect(summary.files[0]!.skipped['no-receipt']).toBe(4)
  })

  it('reads .csv.gz like .csv, and a truncated gzip is a clear error that writes nothing', async () => {
    const text = await readFile(join(RPC, 'test_export_traces_job/block_with_subtraces/expected_traces.csv'))
    const dir = join(work, 'gz')
    await import('node:fs/promises').then((fs) => fs.mkdir(dir))
    await writeFile(join(dir, 'traces.csv.gz'), gzipSync(text))
    const plain = testPrefix('p')
    await importEtl(createGraphStore(redis, plain), [await folder('plain', { 'traces.csv': 'test_export_traces_job/block_with_subtraces/expected_traces.csv' })], { listedTokens: [] })
    const gz = testPrefix('g')
    await importEtl(createGraphStore(redis, gz), [dir], { listedTokens: [] })
    expect(await stored(gz)).toEqual(await stored(plain))

    const broken = join(work, 'broken')
    await import('node:fs/promises').then((fs) => fs.mkdir(broken))
    const zipped = gzipSync(Buffer.concat([text, text, text]))
    await writeFile(join(broken, 'traces.csv.gz'), zipped.subarray(0, Math.floor(zipped.length / 2)))
    const prefix = testPrefix('b')
    const error = await importEtl(createGraphStore(redis, prefix), [broken], { listedTokens: [] }).catch((e: unknown) => e)
    expect(isExposureError(error, 'MALFORMED_FILE')).toBe(true)
    expect((await redis.keys(keysOf(prefix).nodePattern)).length).toBe(0)
  })
})

describe('exposure import refuses values out of their domain (exit 2, file:line and field, nothing written)', () => {
  const USDT = '0xdac17f958d2ee523a2206206994597c13d831ec7'
  const from = `0x${'a1'.repeat(20)}`
  const to = `0x${'b2'.repeat(20)}`
  const tokenRow = (i: number, value: string, logIndex: string) => [USDT, from, to, value, `0x${i.toString(16).padStart(64, '0')}`, logIndex, '100', '3'].join(',')
  const TOKEN_HEADER = 'token_address,from_address,to_address,value,transaction_hash,log_index,block_number,transaction_index'

  async function tokenFile(name: string, rows: string[]): Promise<string> {
    const dir = join(work, name)
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }))
    const file = join(dir, 'token_transfers.csv')
    await writeFile(file, `${[TOKEN_HEADER, ...rows].join('\n')}\n`)
    return file
  }
  const storeKeys = async (prefix: string) => (await Promise.all(storeGlobs(prefix).map((g) => redis.keys(g)))).flat().filter((k) => !k.endsWith(':assets'))

  it('a value of 2^256+1', async () => {
    const big = ((1n << 256n) + 1n).toString()
    const file = await tokenFile('uint256', [tokenRow(1, '5', '0'), tokenRow(2, big, '1')])
    const prefix = testPrefix('big')
    const result = await runCli(['--redis-url', server.url, '--prefix', prefix, 'import', file])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toContain(`${file}:3`)
    expect(result.stderr).toContain('field="value"')
    expect(result.stderr).toContain(big)
    expect(await storeKeys(prefix)).toEqual([])
  })

  it('a log_index of 2^22 is refused at its line, and --skip-invalid skips it like any other bad row', async () => {
    const file = await tokenFile('log-index', [tokenRow(1, '5', '7'), tokenRow(2, '6', String(2 ** 22)), tokenRow(3, '7', String(2 ** 22 - 1))])
    const prefix = testPrefix('log')
    const refused = await runCli(['--redis-url', server.url, '--prefix', prefix, 'import', file])
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr).toContain(`${file}:3`)
    expect(refused.stderr).toContain('field="log_index"')
    expect(await storeKeys(prefix)).toEqual([])

    const skipped = await runCli(['--redis-url', server.url, '--prefix', prefix, 'import', '--skip-invalid', '--json', file])
    expect(skipped.code, skipped.stderr).toBe(0)
    const summary = JSON.parse(skipped.stdout) as { transfersCounted: number; files: { skipped: Record<string, number> }[]; invalid: { line: number; field: string }[] }
    expect(summary.transfersCounted).toBe(2)
    expect(summary.files[0]!.skipped.invalid).toBe(1)
    expect(summary.invalid.map((e) => [e.line, e.field])).toEqual([[3, 'log_index']])
    expect(skipped.stderr).toContain(`${file}:3`)
    const subIndices: number[] = []
    for await (const t of createGraphStore(redis, prefix).transfers()) subIndices.push(t.subIndex)
    expect(subIndices.sort((a, b) => a - b)).toEqual([7, 2 ** 22 - 1])
  })

  it('import --help names receipts.csv and what it is for', async () => {
    const help = await runCli(['import', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('receipts.csv')
    expect(help.stdout.replace(/\s+/g, " ")).toMatch(/receipts\.csv \(the receipt status/)
  })
})
