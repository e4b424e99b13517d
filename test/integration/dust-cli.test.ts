import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { TokenRow, TraceRow, TxRow } from '../support/etl-rows.ts'
import { runCli } from '../support/cli.ts'
import { useRedisAndTempDir, writeEtlFolder } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

/**
 * EXPOSURE_DUST through the real CLI (`import`, `seeds import`, `trace`, `check --json` as
 * separate processes) on a hand-built etl folder: for ETH (external transactions and an internal
 * call) and for a listed token (USDT), each wallet is reached only over one transfer of exactly
 * the floor (counts), floor − 1 (does not) or floor + 1 (counts), downstream from the seed and
 * upstream into it. The floors differ per asset, so a walk that applies one asset's floor to the
 * other, or none to tokens, gives other hops.
 */
const harness = useRedisAndTempDir('dust-cli')

const ETH_FLOOR = 10n ** 16n // 0.01 ETH
const USDT_FLOOR = 10n ** 6n // 1 USDT (6 decimals)
const USDT = '0xdac17f958d2ee523a2206206994597c13d831ec7'
// In the environment as a user would write it: EIP-55 mixed case.
const DUST_ENV = `ETH=${ETH_FLOOR},0xdAC17F958D2ee523a2206206994597C13D831ec7=${USDT_FLOOR}`

const a = (tag: string) => `0x${tag.padEnd(4, '0')}${'0'.repeat(36)}`
const SEED = a('5eed')
const CONTRACT = a('c0')
// Downstream (seed → wallet, block 100): e = ETH transaction, i = internal call, t = USDT log;
// 1 = floor − 1, 2 = floor, 3 = floor + 1.
const [DE1, DE2, DE3, DI1, DI2, DT1, DT2, DT3] = ['de1', 'de2', 'de3', 'd11', 'd12', 'df1', 'df2', 'df3'].map(a) as [string, string, string, string, string, string, string, string]
// Second hop (block 150): from the floor wallet (counts), and from the dust wallet (unreached).
const [DE2NEXT, DE1NEXT, DT2NEXT, DT1NEXT] = ['de2a', 'de1a', 'df2a', 'df1a'].map(a) as [string, string, string, string]
// Upstream (wallet → seed, block 200).
const [UE1, UE2, UE3, UT1, UT2, UT3] = ['ae1', 'ae2', 'ae3', 'af1', 'af2', 'af3'].map(a) as [string, string, string, string, string, string]

let counter = 0
const hash = () => `0x${(++counter).toString(16).padStart(64, '0')}`

function folderRows() {
  const transactions: TxRow[] = []
  const traces: TraceRow[] = []
  const tokenTransfers: TokenRow[] = []
  const index = new Map<number, number>()
  const tx = (block: number, from: string, to: string, value: bigint): { hash: string; index: number } => {
    const i = index.get(block) ?? 0
    index.set(block, i + 1)
    const h = hash()
    transactions.push({ hash: h, nonce: '0', block_hash: `0x${String(block).padStart(64, '0')}`, block_number: String(block), transaction_index: String(i), from_address: from, to_address: to, value: value.toString(), gas: '21000', gas_price: '1', input: '0x', block_timestamp: String(1_700_000_000 + block * 12), receipt_status: '1' })
    return { hash: h, index: i }
  }
  const usdt = (block: number, from: string, to: string, value: bigint) => {
    const t = tx(block, from, USDT, 0n) // the token call itself moves no ETH
    tokenTransfers.push({ token_address: USDT, from_address: from, to_address: to, value: value.toString(), transaction_hash: t.hash, log_index: String(t.index), block_number: String(block) })
  }
  const internal = (block: number, parent: { hash: string; index: number }, from: string, to: string, value: bigint, traceAddress: string) =>
    traces.push({ block_number: String(block), transaction_hash: parent.hash, transaction_index: String(parent.index), from_address: from, to_address: to, value: value.toString(), trace_type: 'call', call_type: 'call', error: '', subtraces: '0', trace_address: traceAddress, status: '1' })

  tx(100, SEED, DE1, ETH_FLOOR - 1n)
  tx(100, SEED, DE2, ETH_FLOOR)
  tx(100, SEED, DE3, ETH_FLOOR + 1n)
  // The seed pays a contract (well above the floor), which pays two wallets in the same transaction.
  const call = tx(100, SEED, CONTRACT, 5n * ETH_FLOOR)
  internal(100, call, CONTRACT, DI1, ETH_FLOOR - 1n, '0')
  internal(100, call, CONTRACT, DI2, ETH_FLOOR, '1')
  usdt(100, SEED, DT1, USDT_FLOOR - 1n)
  usdt(100, SEED, DT2, USDT_FLOOR)
  usdt(100, SEED, DT3, USDT_FLOOR + 1n)

  tx(150, DE2, DE2NEXT, ETH_FLOOR)
  tx(150, DE1, DE1NEXT, 10n ** 18n)
  usdt(150, DT2, DT2NEXT, USDT_FLOOR)
  usdt(150, DT1, DT1NEXT, 10n ** 9n)

  tx(200, UE1, SEED, ETH_FLOOR - 1n)
  tx(200, UE2, SEED, ETH_FLOOR)
  tx(200, UE3, SEED, ETH_FLOOR + 1n)
  usdt(200, UT1, SEED, USDT_FLOOR - 1n)
  usdt(200, UT2, SEED, USDT_FLOOR)
  usdt(200, UT3, SEED, USDT_FLOOR + 1n)
  return { transactions, traces, tokenTransfers }
}

type Hops = [number | null, number | null]
const WITH_DUST: Record<string, Hops> = {
  [SEED]: [0, 0],
  [CONTRACT]: [1, null],
  [DE1]: [null, null],
  [DE2]: [1, null],
  [DE3]: [1, null],
  [DI1]: [null, null],
  [DI2]: [2, null],
  [DT1]: [null, null],
  [DT2]: [1, null],
  [DT3]: [1, null],
  [DE2NEXT]: [2, null],
  [DE1NEXT]: [null, null],
  [DT2NEXT]: [2, null],
  [DT1NEXT]: [null, null],
  [UE1]: [null, null],
  [UE2]: [null, 1],
  [UE3]: [null, 1],
  [UT1]: [null, null],
  [UT2]: [null, 1],
  [UT3]: [null, 1],
}
// Without floors the dust-only wallets are reached too: it is the floor that keeps them out.
const WITHOUT_DUST: Record<string, Hops> = { ...WITH_DUST, [DE1]: [1, null], [DI1]: [2, null], [DT1]: [1, null], [DE1NEXT]: [2, null], [DT1NEXT]: [2, null], [UE1]: [null, 1], [UT1]: [null, 1] }

interface CheckJson {
  address: string
  downstream: { hops: number; path: { from: string; to: string; asset: string; amount: string }[] } | null
  upstream: { hops: number; path: { from: string; to: string; asset: string; amount: string }[] } | null
}

async function traceAndCheck(g: string[], env: Record<string, string | undefined>): Promise<{ hops: Record<string, Hops>; results: CheckJson[] }> {
  const trace = await runCli([...g, 'trace', '--hops', '4'], env)
  expect(trace.code, trace.stderr).toBe(0)
  const check = await runCli([...g, 'check', '--json', ...Object.keys(WITH_DUST)], env)
  expect(check.code, check.stderr).toBe(0)
  const results = JSON.parse(check.stdout) as CheckJson[]
  return { results, hops: Object.fromEntries(results.map((r) => [r.address.toLowerCase(), [r.downstream?.hops ?? null, r.upstream?.hops ?? null]])) }
}

describe('EXPOSURE_DUST through the CLI', () => {
  it('a transfer of exactly the floor counts, floor − 1 does not, floor + 1 does: ETH (transactions, internal calls) and USDT, both directions', async () => {
    const dir = await writeEtlFolder(harness.dir, 'dust', folderRows())
    const seeds = join(dir, 'seeds.csv')
    await writeFile(seeds, `address,label,source\n${SEED},dust test seed,hand-built\n`)
    const g = ['--redis-url', harness.server.url, '--prefix', testPrefix('dust')]

    const imported = await runCli([...g, 'import', '--json', dir])
    expect(imported.code, imported.stderr).toBe(0)
    // 9 ETH transactions + 2 internal calls + 8 USDT logs count (the 8 token calls carry no ETH).
    expect(JSON.parse(imported.stdout).transfersCounted).toBe(19)
    const seeded = await runCli([...g, 'seeds', 'import', seeds])
    expect(seeded.code, seeded.stderr).toBe(0)

    const dusted = await traceAndCheck(g, { EXPOSURE_DUST: DUST_ENV })
    expect(dusted.hops).toEqual(WITH_DUST)
    // The witnesses use the floor-sized transfers themselves.
    const byAddress = new Map(dusted.results.map((r) => [r.address.toLowerCase(), r]))
    const steps = (address: string, direction: 'downstream' | 'upstream') =>
      byAddress.get(address)![direction]!.path.map((s) => [s.from.toLowerCase(), s.to.toLowerCase(), s.asset === 'ETH' ? 'ETH' : s.asset.toLowerCase(), s.amount])
    expect(steps(DE2, 'downstream')).toEqual([[SEED, DE2, 'ETH', String(ETH_FLOOR)]])
    expect(steps(DI2, 'downstream')).toEqual([[SEED, CONTRACT, 'ETH', String(5n * ETH_FLOOR)], [CONTRACT, DI2, 'ETH', String(ETH_FLOOR)]])
    expect(steps(DT2NEXT, 'downstream')).toEqual([[SEED, DT2, USDT, String(USDT_FLOOR)], [DT2, DT2NEXT, USDT, String(USDT_FLOOR)]])
    expect(steps(UT2, 'upstream')).toEqual([[UT2, SEED, USDT, String(USDT_FLOOR)]])
    expect(steps(UE2, 'upstream')).toEqual([[UE2, SEED, 'ETH', String(ETH_FLOOR)]])

    // The same store walked again without floors (a full walk: the parameters changed).
    const plain = await traceAndCheck(g, { EXPOSURE_DUST: 'none' })
    expect(plain.hops).toEqual(WITHOUT_DUST)
  })
})
