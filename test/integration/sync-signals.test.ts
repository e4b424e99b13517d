/**
 * Signals, waiting and bounded failure of the block sync (real CLI processes, a real anvil behind
 * a proxy that delays or plays dead, a real redis-server): SIGINT stops a non-following sync
 * (exit 130) with the coverage exactly what was committed; `--workers 0` with no worker says it is
 * waiting and how to start one, goes on when one comes, and honours SIGTERM; `--follow` backs off
 * and carries on while the node is unreachable, with no listener piling up per poll; a
 * non-following sync against a node that died fails with one line.
 */
import { spawn } from 'node:child_process'
import { getEventListeners } from 'node:events'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCoverage, syncKeys } from '../../src/sources/rpc/ingest.ts'
import { runSync, type SyncEvent } from '../../src/sources/rpc/sync.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { buildRandomChain, rpc, type RandomChain } from '../support/chain.ts'
import { BIN } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { startRewriteProxy, type RewriteProxy } from '../support/rewrite-proxy.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'
import { startCli } from '../support/sync-cli.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let listed: Address[]
let proxy: RewriteProxy

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  chain = await buildRandomChain(anvil.url, { seed: 17, blocks: 30, txPerBlock: 4 })
  listed = [chain.contracts.token as Address]
  proxy = await startRewriteProxy(anvil.url)
}, 90_000)

afterAll(async () => {
  redis?.disconnect()
  await proxy?.stop()
  await Promise.all([anvil?.stop(), server?.stop()])
})

const env = (prefix: string, rpcUrl = anvil.url) => ({ REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, RPC_URL: rpcUrl, EXPOSURE_ASSETS: listed.join(',') })

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (hang guard)`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A clean sync of exactly these ranges, into a fresh store. */
async function cleanOf(ranges: readonly { from: number; to: number }[]): Promise<Map<string, string>> {
  const clean = createGraphStore(redis, testPrefix('clean'))
  for (const r of ranges) await runSync(clean, { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, fromBlock: r.from, toBlock: r.to, confirmations: 0, rangeSize: 50, workers: 1 })
  return adjacencySnapshot(redis, clean.keys.prefix)
}

describe('signals', () => {
  it('SIGINT stops a non-following sync: exit 130, coverage exactly what was committed', async () => {
    const prefix = testPrefix('sigint')
    proxy.setDelay(150)
    const running = startCli(['sync', '--from-block', '0', '--to-block', String(chain.lastBlock), '--confirmations', '0', '--range', '2', '--workers', '1'], env(prefix, proxy.url))
    let done: Awaited<typeof running.exited>
    try {
      await waitFor('a first committed range', async () => (await readCoverage(redis, syncKeys(prefix))).length > 0)
      running.kill('SIGINT')
      done = await running.exited
    } finally {
      proxy.setDelay(0)
      running.kill('SIGKILL')
    }
    expect(done.code, done.stderr).toBe(130)
    expect(done.stderr).toMatch(/interrupted/)
    const coverage = await readCoverage(redis, syncKeys(prefix))
    expect(coverage.length).toBeGreaterThan(0)
    expect(coverage.at(-1)!.to).toBeLessThan(chain.lastBlock)
    expect(done.stderr).toContain(`blocks ${coverage.map((r) => `${r.from}-${r.to}`).join(', ')} are in the store`)
    // Nothing half-written: no unfinished import, no lock left, the store is a clean sync of the coverage.
    expect(await redis.zcard(`${prefix}:imports`)).toBe(0)
    expect(await redis.exists(`${prefix}:lock:write`, `${prefix}:lock:sync`)).toBe(0)
    expect(await adjacencySnapshot(redis, prefix)).toEqual(await cleanOf(coverage))
  })

  it('--workers 0 with no worker says it is waiting, goes on when a worker comes, and honours SIGTERM', async () => {
    const prefix = testPrefix('waiting')
    const running = startCli(['sync', '--from-block', '0', '--to-block', '9', '--confirmations', '0', '--workers', '0', '--json'], env(prefix))
    await running.waitFor(/waiting for ingest workers.*exposure worker/)
    const worker = spawn(process.execPath, [BIN, '--prefix', prefix, 'worker', '--queues', 'ingest'], { env: { ...process.env, ...env(prefix) } as NodeJS.ProcessEnv, stdio: ['ignore', 'ignore', 'pipe'] })
    try {
      await running.waitFor(/1 ingest worker serving/)
      const done = await running.exited
      expect(done.code, done.stderr).toBe(0)
      expect(JSON.parse(done.stdout).coverage).toEqual([{ from: 0, to: 9 }])
    } finally {
      worker.kill('SIGTERM')
    }

    const other = testPrefix('waiting-term')
    const second = startCli(['sync', '--from-block', '0', '--to-block', '9', '--confirmations', '0', '--workers', '0'], env(other))
    await second.waitFor(/waiting for ingest workers/)
    second.kill('SIGTERM')
    const stopped = await second.exited
    expect(stopped.code, stopped.stderr).toBe(130)
    expect(await readCoverage(redis, syncKeys(other))).toEqual([])
    // The queued jobs were withdrawn: a worker started now finds nothing to do.
    expect(await redis.llen(`${other}:q:ingest:wait`)).toBe(0)
  })
})

describe('follow', () => {
  it('backs off while the node is unreachable and carries on; no listener piles up per poll', async () => {
    const prefix = testPrefix('follow')
    const store = createGraphStore(redis, prefix)
    const abort = new AbortController()
    const events: SyncEvent[] = []
    const warnings: string[] = []
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`)
    process.on('warning', onWarning)
    const running = runSync(store, {
      redisUrl: server.url,
      rpcUrl: proxy.url,
      listedTokens: listed,
      fromBlock: 0,
      follow: true,
      confirmations: 2,
      rangeSize: 10,
      workers: 1,
      pollMs: 20,
      rpc: { maxAttempts: 2, backoffMs: 5, maxBackoffMs: 20, timeoutMs: 1_000 },
      backoff: { initialMs: 50, maxMs: 200 },
      signal: abort.signal,
      onEvent: (e) => events.push(e),
    })
    try {
      const start = Number(BigInt(await rpc<string>(anvil.url, 'eth_blockNumber')))
      await waitFor('the head', () => events.some((e) => e.type === 'tentative' && e.to === start))
      // Many polls: one block at a time.
      for (let i = 1; i <= 15; i++) {
        await rpc(anvil.url, 'evm_mine', [])
        await waitFor(`block ${start + i}`, () => events.some((e) => e.type === 'tentative' && e.to === start + i))
      }
      expect(getEventListeners(abort.signal, 'abort').length).toBeLessThanOrEqual(2)

      proxy.setMode('drop')
      await waitFor('two back-offs', () => events.filter((e) => e.type === 'node-down').length >= 2)
      proxy.setMode('pass')
      await rpc(anvil.url, 'evm_mine', [])
      const top = Number(BigInt(await rpc<string>(anvil.url, 'eth_blockNumber')))
      await waitFor('the node again', () => events.some((e) => e.type === 'node-up'))
      await waitFor('the new head', () => events.some((e) => e.type === 'tentative' && e.to === top))
    } finally {
      proxy.setMode('pass')
      abort.abort()
      await running.catch(() => undefined)
      process.off('warning', onWarning)
    }
    const summary = await running
    expect(summary.finalThrough).toBeGreaterThanOrEqual(chain.lastBlock)
    expect(warnings.filter((w) => /MaxListeners/.test(w))).toEqual([])
    const down = events.find((e) => e.type === 'node-down')
    expect(down).toMatchObject({ type: 'node-down' })
    expect(getEventListeners(abort.signal, 'abort').length).toBeLessThanOrEqual(1)
  })

  it('a non-following sync against a node that died fails with one error line', async () => {
    const prefix = testPrefix('dead')
    // The node answers detection, then goes away when the first blocks are read.
    proxy.setGate((calls) => {
      if (calls.some((c) => c.method === 'eth_getBlockReceipts')) proxy.setMode('drop')
      return calls.some((c) => c.method === 'eth_getBlockReceipts') ? 'drop' : 'pass'
    })
    let done: Awaited<ReturnType<typeof startCli>['exited']>
    try {
      done = await startCli(['sync', '--from-block', '0', '--to-block', String(chain.lastBlock), '--confirmations', '0'], env(prefix, proxy.url)).exited
    } finally {
      proxy.setGate(null)
      proxy.setMode('pass')
    }
    expect(done.code, done.stderr).toBe(1)
    // At most one progress line while it retries (retry-note.ts throttles them), then one error line.
    const lines = done.stderr.trim().split('\n')
    expect(lines.length, done.stderr).toBeLessThanOrEqual(2)
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^waiting for http:\/\/127\.0\.0\.1:\d+: eth_\w+ attempt \d+ failed/)
    expect(lines.at(-1)).toMatch(/^error: .*node at http:\/\/127\.0\.0\.1:\d+/)
    expect(await readCoverage(redis, syncKeys(prefix))).toEqual([])
  })
})
