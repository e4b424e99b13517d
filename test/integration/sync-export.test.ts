/**
 * export-etl and --confirmations, on a real anvil (and a proxy that fails one method for good):
 * a failed export leaves the folder as it was (no header-only CSVs; files are written under
 * temporary names and renamed on success); `trace --source rpc` and `check --source rpc` take
 * `--confirmations`, and the flag wins over EXPOSURE_CONFIRMATIONS.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, rpc, type RandomChain } from '../support/chain.ts'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { blockParam, rpcError, startRewriteProxy, type RewriteProxy } from '../support/rewrite-proxy.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let listed: Address[]
let proxy: RewriteProxy
let dir: string

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  chain = await buildRandomChain(anvil.url, { seed: 9, blocks: 14, txPerBlock: 5 })
  listed = [chain.contracts.token as Address]
  proxy = await startRewriteProxy(anvil.url)
  dir = await mkdtemp(join(tmpdir(), 'sync-export-'))
}, 60_000)

afterAll(async () => {
  redis?.disconnect()
  await proxy?.stop()
  await Promise.all([anvil?.stop(), server?.stop()])
  await rm(dir, { recursive: true, force: true })
})

describe('export-etl', () => {
  it('a failed export leaves the folder as it was', async () => {
    const out = join(dir, 'failed')
    await mkdir(out)
    await writeFile(join(out, 'transactions.csv'), 'an earlier export\n')
    // Block 8's receipts fail for good (capability detection probes the head, which still answers).
    proxy.setRewrite((call) => (call.method === 'eth_getBlockReceipts' && blockParam(call) === 8 ? rpcError('the receipts database crashed') : undefined))
    let result: Awaited<ReturnType<typeof runCli>>
    try {
      result = await runCli(['export-etl', '--from-block', '0', '--to-block', String(chain.lastBlock), '--rpc-url', proxy.url, out], { REDIS_URL: server.url })
    } finally {
      proxy.setRewrite(null)
    }
    expect(result.code, result.stderr).toBe(1)
    expect(result.stderr).toContain('the receipts database crashed')
    expect((await readdir(out)).sort()).toEqual(['transactions.csv'])
    expect(await readFile(join(out, 'transactions.csv'), 'utf8')).toBe('an earlier export\n')
  })

  it('a successful export replaces the files and leaves no temporary ones', async () => {
    const out = join(dir, 'ok')
    await mkdir(out)
    await writeFile(join(out, 'transactions.csv'), 'an earlier export\n')
    const result = await runCli(['export-etl', '--from-block', '0', '--to-block', String(chain.lastBlock), '--rpc-url', anvil.url, '--json', out], { REDIS_URL: server.url })
    expect(result.code, result.stderr).toBe(0)
    expect((await readdir(out)).sort()).toEqual(['token_transfers.csv', 'traces.csv', 'transactions.csv'])
    const transactions = await readFile(join(out, 'transactions.csv'), 'utf8')
    expect(transactions.split('\n')[0]).toMatch(/^hash,nonce,block_hash/)
    expect(transactions.trim().split('\n').length - 1).toBe(JSON.parse(result.stdout).transactions)
  })
})

describe('--confirmations on trace and check', () => {
  it('the flag wins over EXPOSURE_CONFIRMATIONS', async () => {
    const head = Number(BigInt(await rpc<string>(anvil.url, 'eth_blockNumber')))
    const prefix = testPrefix('conf')
    const store = createGraphStore(redis, prefix)
    await store.putSeeds([{ address: chain.seeds[0] as Address, label: 'seed', source: 'test' }])
    const env = { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, RPC_URL: anvil.url, EXPOSURE_ASSETS: listed.join(','), EXPOSURE_CONFIRMATIONS: '5' }
    const check = await runCli(['check', '--source', 'rpc', '--confirmations', '2', '--json', chain.addresses[5]!], env)
    expect(check.code, check.stderr).toBe(0)
    expect(JSON.parse(check.stdout)[0].finalBlock).toBe(head - 2)
    const trace = await runCli(['trace', '--source', 'rpc', '--hops', '1', '--confirmations', '2', '--json'], env)
    expect(trace.code, trace.stderr).toBe(0)
    expect(JSON.parse(trace.stdout).coverage.throughBlock).toBe(head - 2)
    // Without the flag, the environment decides.
    const envOnly = await runCli(['trace', '--source', 'rpc', '--hops', '1', '--json'], env)
    expect(envOnly.code, envOnly.stderr).toBe(0)
    expect(JSON.parse(envOnly.stdout).coverage.throughBlock).toBe(head - 5)
    const bad = await runCli(['trace', '--source', 'rpc', '--confirmations', 'lots'], env)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--confirmations')
  })
})
