/**
 * A rescan of a store synced from a node (issue 9, "pulls new data from every configured source"):
 * anvil mines new blocks that move funds from a seed's neighbourhood to a watched wallet; one
 * `exposure rescan` later the store holds those blocks (read from the node up to the finality
 * line), the walk is updated incrementally, and exactly that wallet has an alert whose witness path
 * is the new transfer chain and whose cause names the blocks. The answers equal a clean sync and a
 * full walk of the whole chain in another store.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Alert } from '../../src/watch/alerts.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { deployContracts, rpcBatch, sendAndMine } from '../support/chain.ts'
import { runCli } from '../support/cli.ts'
import { useRedisAndTempDir } from '../support/harness.ts'
import { testPrefix } from '../support/redis-server.ts'

const harness = useRedisAndTempDir('rescan-rpc')
let anvil: AnvilInstance

const a = (tag: string) => `0x${tag.padStart(40, '0')}`
const [SEED, X, W, Q, R] = ['5eed', 'aaa1', 'bbb2', 'ccc3', 'ddd4'].map(a) as [string, string, string, string, string]
const ETH = (n: number) => `0x${(BigInt(n) * 10n ** 18n).toString(16)}`

beforeAll(async () => {
  anvil = await startAnvil({ args: ['--auto-impersonate'] })
  await deployContracts(anvil.url)
  await rpcBatch(anvil.url, [SEED, X, W, Q, R].map((address) => ({ method: 'anvil_setBalance', params: [address, ETH(100)] })))
}, 60_000)

afterAll(async () => {
  await anvil?.stop()
})

const json = (text: string) => JSON.parse(text) as Record<string, any>

describe('exposure rescan on a synced store', () => {
  it('reads the new blocks from the node, walks them incrementally and raises exactly the alert a clean sync and walk imply', async () => {
    const prefix = testPrefix('rpc')
    const env = { REDIS_URL: harness.server.url, EXPOSURE_PREFIX: prefix, RPC_URL: anvil.url, EXPOSURE_CONFIRMATIONS: '0', EXPOSURE_MAX_HOPS: '3', EXPOSURE_WORKERS: '1' }
    const ok = async (args: string[], extra: Record<string, string> = {}) => {
      const r = await runCli(args, { ...env, ...extra })
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return r
    }
    const dir = join(harness.dir, 'files')
    await mkdir(dir, { recursive: true })
    const seeds = join(dir, 'seeds.csv')
    await writeFile(seeds, `address,label,source\n${SEED},Lazarus Group,OFAC test\n`)

    // Before: the seed pays X; Q and W trade with R only.
    await sendAndMine(anvil.url, [{ from: SEED, to: X, value: ETH(5), gas: '0x5208' }, { from: Q, to: R, value: ETH(1), gas: '0x5208' }])
    await sendAndMine(anvil.url, [{ from: W, to: R, value: ETH(1), gas: '0x5208' }])
    await ok(['sync', '--from-block', '0'])
    await ok(['seeds', 'import', seeds, '--no-walk'])
    await ok(['trace'])
    await ok(['watch', 'add', W, Q, '--ref', 'deposit-42'])
    const quiet = json((await ok(['rescan', '--json'])).stdout)
    expect(quiet.read.blocks).toEqual([])
    expect(quiet.alerts).toBe(0)

    // New blocks: X forwards part of the seed's money to W; Q receives from R (no exposure).
    const moved = await sendAndMine(anvil.url, [{ from: X, to: W, value: ETH(2), gas: '0x5208' }])
    const other = await sendAndMine(anvil.url, [{ from: R, to: Q, value: ETH(1), gas: '0x5208' }])
    const rescan = json((await ok(['rescan', '--json'])).stdout)
    expect(rescan.read.blocks).toEqual([{ from: moved, to: other }])
    expect(rescan.read.transfersAdded).toBe(2)
    expect(rescan.walk.mode).toBe('incremental')
    expect(rescan.alerts).toBe(1)

    const tail = (await ok(['alerts', 'tail', '--json'])).stdout.trim().split('\n').map((line) => JSON.parse(line) as { alert: Alert })
    expect(tail).toHaveLength(1)
    const { alert } = tail[0]!
    expect(alert.address.toLowerCase()).toBe(W)
    expect(alert.changes).toContain('hops')
    expect(alert.before.downstream).toBeNull()
    expect(alert.after.downstream).toMatchObject({ hops: 2 })
    expect(alert.after.downstream!.seed.toLowerCase()).toBe(SEED)
    expect(alert.after.witness.downstream!.map((step) => [step.from.toLowerCase(), step.to.toLowerCase(), step.blockNumber])).toEqual([
      [SEED, X, moved - 2],
      [X, W, moved],
    ])
    expect(alert.cause.imported.join('\n')).toContain(`blocks ${moved}`)
    expect(alert.cause.storeVersion.after).toBeGreaterThan(alert.cause.storeVersion.before)
    expect(alert.watchers.refs).toEqual(['deposit-42'])
    // With a public URL, the tail links each alert to its wallet in the graph view.
    const linked = JSON.parse((await ok(['alerts', 'tail', '--json'], { EXPOSURE_PUBLIC_URL: 'https://tracer.example/' })).stdout.trim()) as { link: string }
    expect(linked.link).toBe(`https://tracer.example/#/address/${alert.address}`)

    // Nothing new on the node: nothing read, nothing raised.
    const again = json((await ok(['rescan', '--json'])).stdout)
    expect(again.read.blocks).toEqual([])
    expect(again.alerts).toBe(0)

    // A clean store: the whole chain synced at once and walked in full answers the same.
    const clean = testPrefix('rpc-clean')
    const cleanEnv = { EXPOSURE_PREFIX: clean }
    await ok(['sync', '--from-block', '0'], cleanEnv)
    await ok(['seeds', 'import', seeds, '--no-walk'], cleanEnv)
    await ok(['trace'], cleanEnv)
    const essence = (answers: Record<string, any>[]) => answers.map((r) => ({ address: r.address, risk: r.risk, downstream: r.downstream, upstream: r.upstream, value: r.value }))
    const rescanned = json(`{"a":${(await ok(['check', W, Q, X, '--json'])).stdout}}`).a as Record<string, any>[]
    const walked = json(`{"a":${(await ok(['check', W, Q, X, '--json'], cleanEnv)).stdout}}`).a as Record<string, any>[]
    expect(essence(rescanned)).toEqual(essence(walked))
    expect(rescanned.every((r) => r.stale === false)).toBe(true)
  }, 180_000)
})
