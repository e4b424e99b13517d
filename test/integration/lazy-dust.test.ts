import { describe, expect, it } from 'vitest'
import { createLazyHistory, type AddressHistorySource } from '../../src/sources/lazy-history.ts'
import { createGraphStore } from '../../src/store/graph-store.ts'
import { createChecker } from '../../src/walk/check.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { runWalk } from '../../src/walk/run-walk.ts'
import { ETH, type Address, type Asset, type Transfer } from '../../src/types.ts'
import { DEFAULT_STOP_CATEGORIES } from '../support/reference-walk.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

/**
 * Dust floors in a lazy walk (`trace --source rpc|etherscan`): the store starts with seeds only,
 * and the listed token enters its asset table with the first fetched history, after the walk
 * began. The token's floor must still apply: a USDT transfer of floor − 1 does not count, one of
 * exactly the floor does; the same for ETH.
 */
const harness = useRedisAndTempDir('lazy-dust')

const USDT = '0xdac17f958d2ee523a2206206994597c13d831ec7' as Asset
const ETH_FLOOR = 10n ** 15n
const USDT_FLOOR = 10n ** 6n
const a = (tag: string) => `0x${tag.padEnd(40, '0')}` as Address
const SEED = a('5eed')
const [T1, T2, E1, E2, U1, U2] = ['d1', 'd2', 'e1', 'e2', 'a1', 'a2'].map(a) as [Address, Address, Address, Address, Address, Address]

let n = 0
const transfer = (from: Address, to: Address, asset: Asset, amount: bigint, block: number): Transfer => ({
  from,
  to,
  amount,
  asset,
  blockNumber: block,
  transactionIndex: n % 50,
  txHash: `0x${(++n).toString(16).padStart(64, '0')}`,
  kind: asset === ETH ? 'tx' : 'log',
  subIndex: asset === ETH ? 0 : n,
})

const CHAIN: Transfer[] = [
  transfer(SEED, T1, USDT, USDT_FLOOR - 1n, 10),
  transfer(SEED, T2, USDT, USDT_FLOOR, 10),
  transfer(SEED, E1, ETH, ETH_FLOOR - 1n, 11),
  transfer(SEED, E2, ETH, ETH_FLOOR, 11),
  transfer(U1, SEED, USDT, USDT_FLOOR - 1n, 20),
  transfer(U2, SEED, USDT, USDT_FLOOR, 20),
]

const source: AddressHistorySource = {
  name: 'test',
  requests: () => 0,
  async fetch(address, fromBlock, toBlock) {
    return CHAIN.filter((t) => (t.from === address || t.to === address) && t.blockNumber >= fromBlock && t.blockNumber <= toBlock)
  },
}

describe('dust floors in a lazy walk', () => {
  it('apply to a listed token that entered the asset table with the first fetch', async () => {
    const store = createGraphStore(harness.redis, testPrefix('lazy'))
    await store.putSeeds([{ address: SEED, label: 'seed', source: 'test' }])
    const lazy = createLazyHistory(store, source, { throughBlock: 100, listedTokens: [USDT as Address] })
    await runWalk(store, {
      redisUrl: harness.server.url,
      directions: ['downstream', 'upstream'],
      maxHops: 2,
      batchSize: 4,
      stopCategories: DEFAULT_STOP_CATEGORIES,
      counterpartyCap: 1000,
      dust: { ETH: ETH_FLOOR, [USDT]: USDT_FLOOR },
      workers: 1,
      concurrency: 1,
      beforeExpand: (addresses) => lazy.ensure(addresses),
    })
    // The histories were fetched: the token is in the store now.
    expect(await store.loadAssets()).toContain(USDT)
    const results = await createChecker(store, DEFAULT_RISK_POLICY).check([T1, T2, E1, E2, U1, U2])
    const hops = Object.fromEntries(results.map((r) => [r.address.toLowerCase(), [r.downstream?.hops ?? null, r.upstream?.hops ?? null]]))
    expect(hops).toEqual({
      [T1]: [null, null],
      [T2]: [1, null],
      [E1]: [null, null],
      [E2]: [1, null],
      [U1]: [null, null],
      [U2]: [null, 1],
    })
  })
})
