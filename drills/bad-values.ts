/**
 * The bad-value catalogue of issue 7, through the CLI as a user would type it: every value out of
 * its domain is refused with exit status 2, naming the value and where it was, and writes nothing.
 * Counted: a case passes when the exit status, the message and the untouched store are right.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { storeKeys } from '../src/store/keys.ts'
import { cli, dropPrefix, type DrillResult, type World } from './lib.ts'

interface Case {
  name: string
  /** Files to write into the case's folder (name → text). */
  files?: Record<string, string>
  /** Arguments; `{dir}` is the case's folder. */
  args: string[]
  env?: Record<string, string>
  /** What the message must contain (`{dir}` as above). */
  expect: (string | RegExp)[]
  /** Exit status wanted (default 2). */
  code?: number
  /** A Redis with this maxmemory-policy instead of the world's. */
  policy?: string
  /** The store must stay empty (default true). */
  writesNothing?: boolean
}

const TX_HEADER = 'hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,receipt_status'
const tx = (value: string, extra: { status?: string; timestamp?: string } = {}) => `0x${'ab'.repeat(32)},0,0x${'cd'.repeat(32)},100,0,0x${'11'.repeat(20)},0x${'22'.repeat(20)},${value},21000,1,0x,${extra.timestamp ?? '1600000000'},${extra.status ?? '1'}`
const TOKEN_HEADER = 'token_address,from_address,to_address,value,transaction_hash,log_index,block_number,transaction_index'
const USDT = '0xdac17f958d2ee523a2206206994597c13d831ec7'

const CASES: Case[] = [
  { name: 'value 2^256+1', files: { 'transactions.csv': `${TX_HEADER}\n${tx((2n ** 256n + 1n).toString())}\n` }, args: ['import', '{dir}'], expect: ['transactions.csv:2', 'value'] },
  { name: 'value 2^256 exactly', files: { 'transactions.csv': `${TX_HEADER}\n${tx((2n ** 256n).toString())}\n` }, args: ['import', '{dir}'], expect: ['transactions.csv:2', 'value'] },
  { name: 'log_index 2^22', files: { 'token_transfers.csv': `${TOKEN_HEADER}\n${USDT},0x${'11'.repeat(20)},0x${'22'.repeat(20)},5,0x${'ab'.repeat(32)},${2 ** 22},100,0\n` }, args: ['import', '{dir}'], expect: ['token_transfers.csv:2', 'log_index'] },
  { name: 'receipt_status 2', files: { 'transactions.csv': `${TX_HEADER}\n${tx('5', { status: '2' })}\n` }, args: ['import', '{dir}'], expect: ['transactions.csv:2', 'receipt_status'] },
  { name: 'block_timestamp "yesterday"', files: { 'transactions.csv': `${TX_HEADER}\n${tx('5', { timestamp: 'yesterday' })}\n` }, args: ['import', '{dir}'], expect: ['transactions.csv:2', 'block_timestamp'] },
  { name: 'empty file', files: { 'transactions.csv': '' }, args: ['import', '{dir}'], expect: [/empty/] },
  { name: 'duplicate header column', files: { 'transactions.csv': `${TX_HEADER},value\n${tx('5')},7\n` }, args: ['import', '{dir}'], expect: [/duplicate|twice/i, 'value'] },
  { name: 'bad row after a quoted multi-line field', files: { 'transactions.csv': `${TX_HEADER}\n${tx('5').replace(',0x,', ',"0x\nmore",')}\n${tx('x')}\n` }, args: ['import', '{dir}'], expect: ['transactions.csv:4'] },
  { name: 'zero address as a seed', files: { 'seeds.csv': `address,label,source\n0x${'00'.repeat(20)},zero,test\n` }, args: ['seeds', 'import', '{dir}/seeds.csv'], expect: ['seeds.csv:2', '0x0000000000000000000000000000000000000000'] },
  { name: '1 MB label', files: { 'labels.csv': `address,label,category\n0x${'33'.repeat(20)},${'x'.repeat(1 << 20)},exchange\n` }, args: ['labels', 'import', '{dir}/labels.csv'], expect: ['labels.csv:2', 'label'] },
  { name: 'EXPOSURE_MAX_HOPS empty', args: ['status'], env: { EXPOSURE_MAX_HOPS: '' }, expect: ['EXPOSURE_MAX_HOPS'] },
  { name: 'EXPOSURE_STOP_CATEGORIES=exchnage', args: ['status'], env: { EXPOSURE_STOP_CATEGORIES: 'exchnage' }, expect: ['exchnage'] },
  { name: '--hops 17', args: ['trace', '--hops', '17'], expect: [/maxHops|hops/, '17'] },
  { name: 'database index 99', args: ['status'], env: {}, expect: ['database 99'] },
  { name: 'check: wrong length', args: ['check', '0x1234'], expect: ['0x1234'] },
  { name: 'check: failed EIP-55 checksum', args: ['check', '0xA797bedfcb1f5c3fa3ea78d86520caa3c9d737a4'], expect: ['0xA797bedfcb1f5c3fa3ea78d86520caa3c9d737a4'] },
  { name: 'check --file: bad line', files: { 'addresses.txt': `0x${'44'.repeat(20)}\nnot-an-address\n` }, args: ['check', '--file', '{dir}/addresses.txt'], expect: ['addresses.txt:2', 'not-an-address'] },
  { name: 'import into an evicting Redis', files: { 'transactions.csv': `${TX_HEADER}\n${tx('5')}\n` }, args: ['import', '{dir}'], policy: 'allkeys-lru', expect: ['allkeys-lru', '--allow-eviction'] },
]

export async function badValuesDrill(world: World): Promise<DrillResult> {
  const result: DrillResult = { runs: CASES.length, equal: 0, recoverMs: [], failures: [] }
  const evicting = await startPrivateRedis()
  const admin = new Redis(evicting.url)
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru')
  try {
    for (const [i, c] of CASES.entries()) {
      const dir = join(world.dir, `bad-${i}`)
      await mkdir(dir, { recursive: true })
      for (const [name, text] of Object.entries(c.files ?? {})) await writeFile(join(dir, name), text)
      const prefix = `{drill-bad-${i}}`
      const target = c.policy ? { url: evicting.url } : c.name === 'database index 99' ? { url: `${world.url}/99` } : world
      const run = await cli(target, prefix, c.args.map((a) => a.replaceAll('{dir}', dir)), c.env ? { env: c.env } : {})
      result.recoverMs.push(run.ms)
      const wanted = c.code ?? 2
      const problems: string[] = []
      if (run.code !== wanted) problems.push(`exit ${run.code}, wanted ${wanted}`)
      for (const e of c.expect) {
        const text = typeof e === 'string' ? e.replaceAll('{dir}', dir) : e
        if (typeof text === 'string' ? !run.stderr.includes(text) : !text.test(run.stderr)) problems.push(`message lacks ${String(text)}`)
      }
      if (/\n\s+at /.test(run.stderr)) problems.push('a stack trace was printed')
      const redis = c.policy ? admin : world.redis
      if ((c.writesNothing ?? true) && (await redis.keys(storeKeys(prefix).nodePattern)).length + (await redis.hlen(`${prefix}:seeds`)) + (await redis.hlen(`${prefix}:labels`)) > 0) problems.push('something was written')
      if (problems.length === 0) result.equal++
      else result.failures.push(`${c.name}: ${problems.join('; ')} (stderr: ${run.stderr.trim().slice(0, 300)})`)
      await dropPrefix(redis, prefix)
    }
  } finally {
    admin.disconnect()
    await evicting.stop()
  }
  result.notes = `${CASES.length} bad values, each refused with exit 2 and named`
  return result
}
