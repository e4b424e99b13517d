/**
 * Exposed value, the haircut taint replay and the risk that says why, on hand-built fund flows
 * whose answers are worked out by hand: unsolicited dusting (stays low), a peel chain (the fraction
 * holds), mixing with clean funds (the fraction halves), an address that spends more than it
 * received, one transaction that routes value through a contract; and the real Bybit theft.
 */
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { importEtl } from '../../src/sources/etl-import.ts'
import { DEFAULT_LISTED_TOKENS } from '../../src/sources/assets.ts'
import { createGraphStore, type GraphStore } from '../../src/store/graph-store.ts'
import { createChecker } from '../../src/walk/check.ts'
import { traceWalk } from '../../src/walk/incremental.ts'
import { DEFAULT_RISK_POLICY } from '../../src/walk/risk.ts'
import { taintOf } from '../../src/walk/taint-region.ts'
import { readSeedsFrom } from '../../src/seeds/import-file.ts'
import type { Address } from '../../src/types.ts'
import type { TokenRow, TraceRow, TxRow } from '../support/etl-rows.ts'
import { dropPrefix, useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

const harness = useRedisAndTempDir('value-scenarios')
const ETH = 10n ** 18n
const a = (tag: string) => `0x${tag.padEnd(4, '0')}${'0'.repeat(36)}` as Address

/** A tiny etl export built transfer by transfer: each `tx` is one transaction in its own block. */
function builder() {
  const transactions: TxRow[] = []
  const traces: TraceRow[] = []
  const tokenTransfers: TokenRow[] = []
  let n = 0
  const tx = (block: number, from: string, to: string, value: bigint, internal: { from: string; to: string; value: bigint; traceAddress: string }[] = []) => {
    const hash = `0x${(++n).toString(16).padStart(64, '0')}`
    transactions.push({ hash, nonce: '0', block_hash: `0x${String(block).padStart(64, '0')}`, block_number: String(block), transaction_index: '0', from_address: from, to_address: to, value: value.toString(), gas: '21000', gas_price: '1', input: '0x', block_timestamp: String(1_700_000_000 + block), receipt_status: '1' })
    for (const c of internal) traces.push({ block_number: String(block), transaction_hash: hash, transaction_index: '0', from_address: c.from, to_address: c.to, value: c.value.toString(), trace_type: 'call', call_type: 'call', error: '', subtraces: '0', trace_address: c.traceAddress, status: '1' })
  }
  return { tx, rows: () => ({ transactions, traces, tokenTransfers }) }
}

async function walked(rows: ReturnType<ReturnType<typeof builder>['rows']>, seeds: Address[], labels: { address: Address; category: string }[] = [], listedTokens: readonly Address[] = DEFAULT_LISTED_TOKENS): Promise<{ store: GraphStore; prefix: string }> {
  const folder = await writeEtlFolder(harness.dir, 'scenario', rows)
  const prefix = testPrefix('scn')
  const store = createGraphStore(harness.redis, prefix)
  await importEtl(store, [folder], { listedTokens })
  await store.putSeeds(seeds.map((address) => ({ address, label: 'Lazarus test seed', source: 'scenario' })))
  await store.putLabels(labels.map((l) => ({ ...l, label: l.category })))
  await walk(store)
  return { store, prefix }
}

function walk(store: GraphStore) {
  return traceWalk(store, { redisUrl: harness.server.url, directions: ['downstream', 'upstream'], maxHops: 4, batchSize: 16, stopCategories: ['exchange', 'dex', 'bridge', 'mixer', 'service'], counterpartyCap: 1_000, dust: { ETH: 3_000_000_000_000_000n }, workers: 1, concurrency: 1 })
}

const SEED = a('5eed')

describe('value, taint and the risk that says why', () => {
  it('unsolicited dusting stays low, and says so; the same wallet moving the funds on is high', async () => {
    const W = a('1111')
    const CLEAN = a('c1ea')
    const b = builder()
    b.tx(10, CLEAN, W, 500n * ETH)
    b.tx(20, SEED, W, ETH / 10n) // 0.1 ETH: above the dust floor, below the 0.3 ETH and 5 % thresholds
    const { store, prefix } = await walked(b.rows(), [SEED])
    const [answer] = await createChecker(store, DEFAULT_RISK_POLICY).check([W])
    expect(answer!.downstream?.hops).toBe(1)
    expect(answer!.risk).toBe('low')
    expect(answer!.reason).toMatch(/1 hop downstream from Lazarus test seed .*only 0\.0199 % of received ETH \(0\.1 ETH\).*at most low/)
    expect(answer!.value?.downstream).toEqual([{ asset: 'ETH', total: (500n * ETH + ETH / 10n).toString(), exposed: (ETH / 10n).toString(), share: 0.000199, byHops: { '1': (ETH / 10n).toString() } }])
    await dropPrefix(harness.redis, prefix)

    const moved = builder()
    moved.tx(10, CLEAN, W, 500n * ETH)
    moved.tx(20, SEED, W, ETH / 10n)
    moved.tx(30, W, a('2222'), ETH)
    const again = await walked(moved.rows(), [SEED])
    const [after] = await createChecker(again.store, DEFAULT_RISK_POLICY).check([W])
    expect(after!.risk).toBe('high')
    await dropPrefix(harness.redis, again.prefix)
  })

  it('a screening process that read the asset table before a token first came names that token, never ETH', async () => {
    const W = a('3333')
    const USDT = '0xdac17f958d2ee523a2206206994597c13d831ec7'
    const b = builder()
    b.tx(10, SEED, W, ETH)
    // No token listed yet: the asset table holds ETH alone.
    const { store, prefix } = await walked(b.rows(), [SEED], [], [])
    const checker = createChecker(store, DEFAULT_RISK_POLICY)
    const [before] = await checker.check([W])
    expect(before!.value?.downstream?.map((v) => v.asset)).toEqual(['ETH'])
    // A later export: the seed sends W 1,000 USDT, the store's first token (a new asset id), while
    // the checker keeps the table it read.
    const hash = `0x${'7'.repeat(64)}`
    const later = {
      transactions: [{ ...b.rows().transactions[0]!, hash, block_hash: `0x${'40'.padStart(64, '0')}`, block_number: '40', to_address: USDT, value: '0', block_timestamp: '1700000040' }],
      traces: [],
      tokenTransfers: [{ token_address: USDT, from_address: SEED, to_address: W, value: '1000000000', transaction_hash: hash, log_index: '0', block_number: '40' }],
    }
    await importEtl(store, [await writeEtlFolder(harness.dir, 'later-token', later)], { listedTokens: DEFAULT_LISTED_TOKENS })
    await walk(store)
    const [after] = await checker.check([W])
    expect(after!.value?.downstream).toEqual([
      { asset: 'ETH', total: ETH.toString(), exposed: ETH.toString(), share: 1, byHops: { '1': ETH.toString() } },
      { asset: '0xdAC17F958D2ee523a2206206994597C13D831ec7', total: '1000000000', exposed: '1000000000', share: 1, byHops: { '1': '1000000000' } },
    ])
    await dropPrefix(harness.redis, prefix)
  })

  it('a peel chain keeps its fraction: every hop of seed funds alone is 100 % tainted, whatever the amounts', async () => {
    const [A, B, C, D] = [a('aaaa'), a('bbbb'), a('cccc'), a('dddd')]
    const b = builder()
    b.tx(10, SEED, A, 100n * ETH)
    b.tx(11, A, B, 60n * ETH)
    b.tx(12, A, a('eeee'), 40n * ETH)
    b.tx(13, B, C, 30n * ETH)
    b.tx(14, C, D, 7n * ETH)
    const { store, prefix } = await walked(b.rows(), [SEED])
    const taint = await taintOf(store, D)
    expect(taint.assets).toEqual([expect.objectContaining({ asset: 'ETH', received: 7n * ETH, taintedReceived: 7n * ETH, fraction: 1, unexplained: 0n })])
    expect(taint.assets[0]!.topPaths[0]!.steps.map((s) => [s.transfer.from, s.transfer.to])).toEqual([[SEED, A], [A, B], [B, C], [C, D]].map((p) => p.map((x) => x.slice(2))))
    const [answer] = await createChecker(store, DEFAULT_RISK_POLICY).check([D])
    expect(answer!.value?.downstream?.[0]).toMatchObject({ exposed: (7n * ETH).toString(), share: 1, byHops: { '4': (7n * ETH).toString() } })
    await dropPrefix(harness.redis, prefix)
  })

  it('mixing with as much clean money halves the fraction', async () => {
    const [M, W] = [a('3333'), a('4444')]
    const b = builder()
    b.tx(10, SEED, M, 10n * ETH)
    b.tx(11, a('c1ea'), M, 10n * ETH)
    b.tx(12, M, W, 10n * ETH)
    const { store, prefix } = await walked(b.rows(), [SEED])
    const [eth] = (await taintOf(store, W)).assets
    expect(eth).toMatchObject({ received: 10n * ETH, taintedReceived: 5n * ETH, fraction: 0.5, balance: 10n * ETH, taintedBalance: 5n * ETH })
    await dropPrefix(harness.redis, prefix)
  })

  it('an address that spends more than it received: the excess is clean pre-existing balance, and reported', async () => {
    const [X, W] = [a('5555'), a('6666')]
    const b = builder()
    b.tx(10, SEED, X, 10n * ETH)
    b.tx(11, X, W, 15n * ETH)
    const { store, prefix } = await walked(b.rows(), [SEED])
    const [eth] = (await taintOf(store, W)).assets
    // X passes on all it had (10 tainted) with 5 ETH of its own: W's 15 are 2/3 tainted.
    expect(eth).toMatchObject({ received: 15n * ETH, taintedReceived: 10n * ETH, fraction: 0.666666, unexplained: 5n * ETH, unexplainedBy: [{ address: X.slice(2), amount: 5n * ETH }] })
    await dropPrefix(harness.redis, prefix)
  })

  it('one transaction routing value through a contract: the external value first, then the internal calls in trace order', async () => {
    const [C, W, V] = [a('c0c0'), a('7777'), a('8888')]
    const b = builder()
    // seed → C (external), C → V, then C → W (internal [0], [1]); all of it tainted, in one transaction.
    b.tx(10, SEED, C, 10n * ETH, [
      { from: C, to: V, value: 4n * ETH, traceAddress: '0' },
      { from: C, to: W, value: 6n * ETH, traceAddress: '1' },
    ])
    const { store, prefix } = await walked(b.rows(), [SEED])
    const [answer] = await createChecker(store, DEFAULT_RISK_POLICY).check([W])
    expect(answer!.downstream?.hops).toBe(2) // equal positions chain
    const [eth] = (await taintOf(store, W)).assets
    expect(eth).toMatchObject({ received: 6n * ETH, taintedReceived: 6n * ETH, fraction: 1, unexplained: 0n })
    await dropPrefix(harness.redis, prefix)
  })
})

describe('the real Bybit theft', () => {
  it('the exploiter\'s hop-1 recipients hold ~100 % tainted ETH, and their answers say so', async () => {
    const dir = fileURLToPath(new URL('../../fixtures/bybit-trace/', import.meta.url))
    const prefix = testPrefix('bybit-value')
    const store = createGraphStore(harness.redis, prefix)
    // As the Bybit CLI test: mETH and cmETH listed too (they carried part of the funds).
    await importEtl(store, [dir], { listedTokens: [...DEFAULT_LISTED_TOKENS, '0xd5f7838f5c461feff7fe49ea5ebaf7728bb0adfa', '0xe6829d9a7ee3040e1276fa75293bde931859e8fa'] })
    const { seeds } = await readSeedsFrom(`${dir}seeds.csv`, {})
    await store.putSeeds(seeds)
    await traceWalk(store, { redisUrl: harness.server.url, directions: ['downstream'], maxHops: 4, batchSize: 64, stopCategories: ['exchange', 'dex', 'bridge', 'mixer', 'service'], counterpartyCap: 1_000, dust: {}, workers: 2, concurrency: 2 })
    const checker = createChecker(store, DEFAULT_RISK_POLICY)
    const expected = (await import('node:fs/promises').then((fs) => fs.readFile(`${dir}expected_hops.csv`, 'utf8'))).trim().split('\n').slice(1).map((l) => l.split(','))
    const hopOne = expected.filter((r) => r[1] === '1').map((r) => r[0]!.toLowerCase() as Address)
    expect(hopOne.length).toBeGreaterThan(10)
    let checked = 0
    let tainted = 0
    for (const address of hopOne) {
      const [answer] = await checker.check([address])
      expect(answer!.risk, address).toBe('high')
      expect(answer!.reason).toMatch(/^1 hop downstream from .*% of received /)
      // Exposed value: all of what they received came from the region (in one asset or another).
      const exposed = answer!.value!.downstream!
      expect(exposed.some((v) => v.share > 0.99), address).toBe(true)
      checked++
      // Taint is per asset: where the exploiter sent them ETH itself, that ETH is ~100 % tainted
      // (some got other assets from it and ETH from an intermediary's own, clean balance).
      const eth = exposed.find((v) => v.asset === 'ETH')
      if (eth === undefined || eth.byHops['1'] !== eth.total) continue
      const [taintEth] = (await taintOf(store, address)).assets.filter((t) => t.asset === 'ETH')
      expect(taintEth!.fraction, address).toBeGreaterThan(0.99)
      tainted++
    }
    expect(tainted).toBeGreaterThan(5)
    expect(checked).toBeGreaterThan(10)
    await dropPrefix(harness.redis, prefix)
  })
})
