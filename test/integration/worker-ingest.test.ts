/**
 * `exposure worker` serves ingest jobs as well as walk jobs: `exposure sync --workers 0` with a
 * separate worker process (real CLI, real anvil, private redis-server) writes the same store, byte
 * for byte, as an in-process sync; the worker stops cleanly on SIGTERM. Also: sync honours
 * EXPOSURE_CONFIRMATIONS when --confirmations is absent.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, rpc, type RandomChain } from '../support/chain.ts'
import { BIN, runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let listed: Address[]

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  chain = await buildRandomChain(anvil.url, { seed: 23, blocks: 20, txPerBlock: 10, addresses: 30 })
  listed = [chain.contracts.token as Address]
}, 60_000)

afterAll(async () => {
  redis?.disconnect()
  await Promise.all([anvil?.stop(), server?.stop()])
})

/** Starts `exposure worker` and resolves once every named worker said it is ready. */
async function startWorker(args: readonly string[], env: Record<string, string>, ready: readonly string[]): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, RPC_URL: undefined, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready: ${stderr}`)), 20_000)
    const check = () => {
      if (ready.every((name) => stderr.includes(`${name} worker ready`))) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stderr!.on('data', check)
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${stderr}`)))
  })
  return { child, stderr: () => stderr }
}

async function stop(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null) return { code: child.exitCode, signal: null }
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  child.kill('SIGTERM')
  return exited
}

describe('exposure worker runs ingest jobs', () => {
  it('sync --workers 0 with a separate worker equals an in-process sync, and the worker stops on SIGTERM', async () => {
    const inProcess = testPrefix('inproc')
    const base = ['sync', '--from-block', '0', '--to-block', String(chain.lastBlock), '--confirmations', '0', '--range', '6', '--json']
    const env = { REDIS_URL: server.url, EXPOSURE_ASSETS: listed.join(',') }
    const a = await runCli([...base, '--rpc-url', anvil.url], { ...env, EXPOSURE_PREFIX: inProcess })
    expect(a.code, a.stderr).toBe(0)
    expect(JSON.parse(a.stdout).finalThrough).toBe(chain.lastBlock)

    const separate = testPrefix('separate')
    // The worker is configured with other assets: the sync's listed tokens ride in the job data.
    const worker = await startWorker(['--prefix', separate, 'worker', '--concurrency', '2'], { REDIS_URL: server.url, RPC_URL: anvil.url, EXPOSURE_ASSETS: '0xdac17f958d2ee523a2206206994597c13d831ec7' }, ['walk', 'ingest'])
    let exit: { code: number | null; signal: string | null }
    try {
      const b = await runCli([...base, '--workers', '0', '--rpc-url', anvil.url], { ...env, EXPOSURE_PREFIX: separate })
      expect(b.code, b.stderr).toBe(0)
      const summary = JSON.parse(b.stdout)
      expect(summary.finalThrough).toBe(chain.lastBlock)
      expect(summary.jobs).toBe(Math.ceil((chain.lastBlock + 1) / 6))
    } finally {
      exit = await stop(worker.child)
    }
    expect(exit, worker.stderr()).toEqual({ code: 0, signal: null })
    expect(worker.stderr()).toContain('SIGTERM')

    const [left, right] = await Promise.all([adjacencySnapshot(redis, inProcess), adjacencySnapshot(redis, separate)])
    expect(left.size).toBeGreaterThan(20)
    expect(right).toEqual(left)
    // Same token transfers too: the separate store holds the listed token's transfers.
    const statsA = await runCli(['status', '--json'], { REDIS_URL: server.url, EXPOSURE_PREFIX: inProcess })
    const statsB = await runCli(['status', '--json'], { REDIS_URL: server.url, EXPOSURE_PREFIX: separate })
    expect(JSON.parse(statsB.stdout).store.transfers).toBe(JSON.parse(statsA.stdout).store.transfers)
  })

  it('--queues ingest serves only ingest jobs; --queues with an unknown name or ingest without a node exits 2', async () => {
    const prefix = testPrefix('only')
    const worker = await startWorker(['--prefix', prefix, 'worker', '--queues', 'ingest'], { REDIS_URL: server.url, RPC_URL: anvil.url }, ['ingest'])
    try {
      expect(worker.stderr()).not.toContain('walk worker ready')
    } finally {
      expect(await stop(worker.child)).toEqual({ code: 0, signal: null })
    }
    const bad = await runCli(['--prefix', prefix, 'worker', '--queues', 'walk,blocks'], { REDIS_URL: server.url })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('blocks')
    const noNode = await runCli(['--prefix', prefix, 'worker', '--queues', 'ingest'], { REDIS_URL: server.url, RPC_URL: '' })
    expect(noNode.code).toBe(2)
    expect(noNode.stderr).toContain('RPC_URL')
  })

  it('sync honours EXPOSURE_CONFIRMATIONS when --confirmations is absent', async () => {
    const head = Number(BigInt(await rpc<string>(anvil.url, 'eth_blockNumber')))
    const prefix = testPrefix('conf')
    const result = await runCli(['sync', '--from-block', '0', '--rpc-url', anvil.url, '--json'], { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_CONFIRMATIONS: '5' })
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout).finalThrough).toBe(head - 5)
    // The flag wins over the environment.
    const flagged = await runCli(['sync', '--rpc-url', anvil.url, '--confirmations', '2', '--json'], { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, EXPOSURE_CONFIRMATIONS: '5' })
    expect(flagged.code, flagged.stderr).toBe(0)
    expect(JSON.parse(flagged.stdout).finalThrough).toBe(head - 2)
  })
})
