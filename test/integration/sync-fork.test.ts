/**
 * Forks at any depth, on a real anvil (evm_snapshot, blocks of one history, evm_revert, a longer
 * different history): every range's first block must link to the stored hash of the block before
 * it, and every follow step checks the link; on a mismatch the sync finds the fork point, rolls
 * the store back to it (through the journal) and reads again, however deep (below the finality
 * line too), and says so (a stderr line and the JSON summary's `forks`). The store then equals a
 * fresh sync of the chain as it is.
 */
import { storeKeys } from '../../src/store/keys.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readCoverage, syncKeys } from '../../src/sources/rpc/ingest.ts'
import { runSync } from '../../src/sources/rpc/sync.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { IN_SIZE, splitNode } from '../../src/store/records.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { addressOf, buildRandomChain, rpc, rpcBatch, type RandomChain } from '../support/chain.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'
import { startCli } from '../support/sync-cli.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain
let listed: Address[]

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  chain = await buildRandomChain(anvil.url, { seed: 5, blocks: 10, txPerBlock: 5 })
  listed = [chain.contracts.token as Address]
}, 60_000)

afterAll(async () => {
  redis?.disconnect()
  await Promise.all([anvil?.stop(), server?.stop()])
})

async function head(): Promise<number> {
  return Number(BigInt(await rpc<string>(anvil.url, 'eth_blockNumber')))
}

/** Mines `blocks` blocks, each with one ETH transfer from the first seed to `to`. */
async function mineTransfers(to: string, blocks: number): Promise<void> {
  for (let i = 0; i < blocks; i++) {
    await rpcBatch(anvil.url, [{ method: 'eth_sendTransaction', params: [{ from: chain.seeds[0], to, value: '0x2386f26fc10000', gas: '0x5208', gasPrice: '0x77359400' }] }])
    await rpc(anvil.url, 'evm_mine', [])
  }
}

async function receivedIn(prefix: string, address: string): Promise<number[]> {
  const { in: inn } = splitNode(await redis.getBuffer(storeKeys(prefix).node(address as `0x${string}`)))
  const blocks: number[] = []
  for (let o = 0; o < inn.length; o += IN_SIZE) blocks.push(inn.readUInt32BE(o))
  return blocks
}

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (hang guard)`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

async function freshSnapshot(): Promise<Map<string, string>> {
  const fresh = createGraphStore(redis, testPrefix('fresh'))
  await runSync(fresh, { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, fromBlock: 0, toBlock: await head(), confirmations: 0, rangeSize: 4, workers: 1 })
  return adjacencySnapshot(redis, fresh.keys.prefix)
}

describe('forks', () => {
  it('a later sync finds a fork below its range, rolls back to the fork point and reads again', async () => {
    const prefix = testPrefix('deep')
    const store = createGraphStore(redis, prefix)
    const oldBranch = addressOf(700)
    const newBranch = addressOf(701)
    const snapshot = await rpc<string>(anvil.url, 'evm_snapshot', [])
    const forkPoint = await head()
    await mineTransfers(oldBranch, 6)
    const base = { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, confirmations: 0, rangeSize: 4, workers: 1 }
    const first = await runSync(store, { ...base, fromBlock: 0 })
    expect(first.coverage).toEqual([{ from: 0, to: forkPoint + 6 }])
    expect(await receivedIn(prefix, oldBranch)).toHaveLength(6)

    expect(await rpc<boolean>(anvil.url, 'evm_revert', [snapshot])).toBe(true)
    await mineTransfers(newBranch, 9)
    // No --from-block: continue from the first synced block; the fork is six blocks deep, all final.
    const second = await runSync(store, base)
    expect(second.forks).toEqual([expect.objectContaining({ from: forkPoint + 1, to: forkPoint + 6, transfersRemoved: 6, belowFinality: true })])
    expect(second.coverage).toEqual([{ from: 0, to: forkPoint + 9 }])
    expect(await receivedIn(prefix, oldBranch)).toEqual([])
    expect(await receivedIn(prefix, newBranch)).toHaveLength(9)
    expect(await adjacencySnapshot(redis, prefix)).toEqual(await freshSnapshot())
  })

  it('a reorg deeper than the confirmations under --follow --confirmations 3 is found, rolled back and read again', async () => {
    const prefix = testPrefix('follow')
    const oldBranch = addressOf(800)
    const newBranch = addressOf(801)
    const snapshot = await rpc<string>(anvil.url, 'evm_snapshot', [])
    const forkPoint = await head()
    await mineTransfers(oldBranch, 8)
    const keys = syncKeys(prefix)
    const follower = startCli(['sync', '--from-block', '0', '--follow', '--confirmations', '3', '--range', '4', '--json'], { REDIS_URL: server.url, EXPOSURE_PREFIX: prefix, RPC_URL: anvil.url, EXPOSURE_ASSETS: listed.join(',') })
    try {
      // Blocks forkPoint+1 … forkPoint+5 are final (head − 3), the last three tentative.
      await waitFor('the old branch', async () => (await receivedIn(prefix, oldBranch)).length === 8)
      await waitFor('finality of five old blocks', async () => (await readCoverage(redis, keys)).at(-1)?.to === forkPoint + 5)

      expect(await rpc<boolean>(anvil.url, 'evm_revert', [snapshot])).toBe(true)
      await mineTransfers(newBranch, 12)
      const newHead = await head()
      await waitFor('the new branch', async () => (await receivedIn(prefix, newBranch)).length === 12, 120_000)
      await waitFor('finality of the new branch', async () => (await readCoverage(redis, keys)).at(-1)?.to === newHead - 3)
      await follower.waitFor(new RegExp(`fork: blocks ${forkPoint + 1}-\\d+ .*below the finality line`))
    } finally {
      follower.kill('SIGINT')
    }
    const done = await follower.exited
    expect(done.code, done.stderr).toBe(0)
    const summary = JSON.parse(done.stdout)
    expect(summary.forks[0]).toMatchObject({ from: forkPoint + 1, belowFinality: true })
    expect(summary.forks[0].to).toBeGreaterThanOrEqual(forkPoint + 8)
    expect(await receivedIn(prefix, oldBranch)).toEqual([])
    expect(await adjacencySnapshot(redis, prefix)).toEqual(await freshSnapshot())
  })
})
