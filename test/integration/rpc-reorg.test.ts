/**
 * `sync --follow` on a real anvil: blocks above the finality line are written as tentative; a
 * reorg (evm_snapshot, two blocks, evm_revert, a different chain) is detected by the changed
 * hashes, its transfers are rolled back and the new blocks are read. The store then equals a
 * fresh sync of the final chain, byte for byte.
 */
import { storeKeys } from '../../src/store/keys.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runSync, type SyncEvent } from '../../src/sources/rpc/sync.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { connectRedis, type Redis } from '../../src/store/redis.ts'
import type { Address } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { addressOf, buildRandomChain, rpc, rpcBatch, type RandomChain } from '../support/chain.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'
import { adjacencySnapshot } from '../support/store-compare.ts'

let anvil: AnvilInstance
let server: TestRedis
let redis: Redis
let chain: RandomChain

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  redis = await connectRedis(server.url)
  chain = await buildRandomChain(anvil.url, { seed: 3, blocks: 8, txPerBlock: 6 })
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

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function blocksOf(prefix: string, address: string): Promise<number[]> {
  const { splitNode, IN_SIZE } = await import('../../src/store/records.ts')
  const node = await redis.getBuffer(storeKeys(prefix).node(address as `0x${string}`))
  const { in: inn } = splitNode(node)
  const blocks: number[] = []
  for (let o = 0; o < inn.length; o += IN_SIZE) blocks.push(inn.readUInt32BE(o))
  return blocks
}

describe('sync --follow', () => {
  it('rolls back a reorged head and reads the new chain', async () => {
    const listed = [chain.contracts.token as Address]
    const store = createGraphStore(redis, testPrefix('follow'))
    const events: SyncEvent[] = []
    const abort = new AbortController()
    const oldBranch = addressOf(900)
    const newBranch = addressOf(901)

    const snapshot = await rpc<string>(anvil.url, 'evm_snapshot', [])
    const forkPoint = await head()
    await mineTransfers(oldBranch, 2)
    const running = runSync(store, {
      redisUrl: server.url,
      rpcUrl: anvil.url,
      listedTokens: listed,
      fromBlock: 0,
      follow: true,
      confirmations: 3,
      rangeSize: 5,
      workers: 1,
      pollMs: 50,
      signal: abort.signal,
      onEvent: (e) => events.push(e),
    })
    try {
      // The two old-branch blocks are above the finality line: written as tentative.
      await waitFor('the old branch', async () => (await blocksOf(store.keys.prefix, oldBranch)).length === 2)
      // The event follows the commit that wrote the blocks: wait for it rather than race it.
      await waitFor('the tentative event', () => events.some((e) => e.type === 'tentative' && e.to === forkPoint + 2))

      expect(await rpc<boolean>(anvil.url, 'evm_revert', [snapshot])).toBe(true)
      expect(await head()).toBe(forkPoint)
      await mineTransfers(newBranch, 6)
      const newHead = await head()
      await waitFor('the reorg', () => events.some((e) => e.type === 'reorg'))
      await waitFor('the new branch', async () => (await blocksOf(store.keys.prefix, newBranch)).length === 6)
      await waitFor('finality of the new branch', async () => Number(await redis.get(`${store.keys.prefix}:sync:rpc:cursor`)) === newHead - 3)
      const reorg = events.find((e) => e.type === 'reorg')!
      expect(reorg).toMatchObject({ type: 'reorg', from: forkPoint + 1, transfersRemoved: 2 })
    } catch (error) {
      // Stop the follower before the file's teardown closes Redis under it.
      abort.abort()
      await running.catch(() => undefined)
      throw error
    } finally {
      abort.abort()
    }
    const summary = await running
    expect(summary.reorgs).toBeGreaterThanOrEqual(1)
    expect(await blocksOf(store.keys.prefix, oldBranch)).toEqual([])

    // The same store as a fresh sync of the chain as it is now.
    const fresh = createGraphStore(redis, testPrefix('fresh'))
    await runSync(fresh, { redisUrl: server.url, rpcUrl: anvil.url, listedTokens: listed, fromBlock: 0, toBlock: await head(), confirmations: 0, rangeSize: 5, workers: 1 })
    const expected = await adjacencySnapshot(redis, fresh.keys.prefix)
    expect(await adjacencySnapshot(redis, store.keys.prefix)).toEqual(expected)
    expect((await store.stats()).transfers).toBe((await fresh.stats()).transfers)
  })
})
