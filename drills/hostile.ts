/**
 * Drills against hostile nodes and APIs (issue 13), through the real CLI as an operator runs it:
 * a node that answers after 20 s, one that truncates its bodies, one that answers HTML, one of
 * another chain, one that rewrites parent hashes; an Etherscan-compatible API that repeats one
 * page forever, and one that rate-limits forever. Each must end with one clear line naming the
 * real cause, in bounded time (the client's deadline: 30 s), and write nothing wrong.
 * "Equal" here: the expected refusal, in time, with nothing written.
 */
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { startAnvil } from '../test/support/anvil.ts'
import { buildRandomChain } from '../test/support/chain.ts'
import { startFaultProxy } from '../test/support/fault-proxy.ts'
import { startRewriteProxy } from '../test/support/rewrite-proxy.ts'
import { startFakeEtherscan } from '../test/support/fake-etherscan.ts'
import { cli, dropPrefix, type DrillResult, type World } from './lib.ts'

/** Bound on "a clear error in bounded time": the client's 30 s deadline plus process start-up and load. */
const BOUND_MS = 60_000

interface Scenario {
  name: string
  /** Starts the hostile endpoint; answers the CLI arguments and an environment, and how to stop it. */
  setup(world: World, prefix: string): Promise<{ args: string[]; env: Record<string, string>; stop(): Promise<void> }>
  code: number
  expect: RegExp
}

export async function hostileDrill(world: World): Promise<DrillResult> {
  const anvil = await startAnvil({ args: ['--auto-impersonate'] })
  const chain = await buildRandomChain(anvil.url, { seed: 31, blocks: 12, txPerBlock: 4, addresses: 16 })
  const last = chain.lastBlock
  const syncArgs = (url: string) => ['sync', '--rpc-url', url, '--from-block', '0', '--to-block', String(last), '--confirmations', '0']
  const seedsFile = join(world.dir, 'hostile-seeds.csv')
  await writeFile(seedsFile, `address,label,source\n${chain.seeds.map((s) => `${s},seed,drill`).join('\n')}\n`)
  const scenarios: Scenario[] = [
    {
      name: 'node answering after 20 s',
      setup: async () => {
        const proxy = await startFaultProxy(anvil.url, { rate: 0, seed: 1, delayMs: 20_000 })
        return { args: syncArgs(proxy.url), env: {}, stop: proxy.stop }
      },
      code: 1,
      expect: /timed? ?out|deadline|kept failing/i,
    },
    {
      name: 'node truncating its answers',
      setup: async () => {
        const proxy = await startFaultProxy(anvil.url, { rate: 1, seed: 2, faults: ['truncate'] })
        return { args: syncArgs(proxy.url), env: {}, stop: proxy.stop }
      },
      code: 1,
      expect: /truncated|malformed/i,
    },
    {
      name: 'node answering HTML pages',
      setup: async () => {
        const proxy = await startFaultProxy(anvil.url, { rate: 1, seed: 3, faults: ['html'] })
        return { args: syncArgs(proxy.url), env: {}, stop: proxy.stop }
      },
      code: 1,
      expect: /HTML/i,
    },
    {
      name: 'node of another chain (after a sync of this one)',
      setup: async (w, prefix) => {
        const first = await cli(w, prefix, syncArgs(anvil.url))
        if (first.code !== 0) throw new Error(`the first sync failed: ${first.stderr}`)
        const proxy = await startRewriteProxy(anvil.url)
        proxy.setRewrite((call) => (call.method === 'eth_chainId' ? '0x5' : undefined))
        return { args: syncArgs(proxy.url), env: {}, stop: proxy.stop }
      },
      code: 2,
      expect: /chain/i,
    },
    {
      name: 'node rewriting parent hashes',
      setup: async () => {
        const proxy = await startRewriteProxy(anvil.url)
        proxy.setRewrite((call, result) => {
          if (call.method !== 'eth_getBlockByNumber' || result === null || typeof result !== 'object') return undefined
          return { ...(result as Record<string, unknown>), parentHash: `0x${'ab'.repeat(32)}` }
        })
        return { args: syncArgs(proxy.url), env: {}, stop: proxy.stop }
      },
      code: 1,
      expect: /parent|link|fork/i,
    },
    {
      name: 'Etherscan API repeating one page forever',
      setup: async (w, prefix) => {
        const fake = await startFakeEtherscan({ transactions: [], traces: [], tokenTransfers: [] }, { apiKey: 'drill-key', rate: 10_000, head: 5_000, misbehave: 'same-page' })
        await cli(w, prefix, ['seeds', 'import', '--no-walk', seedsFile])
        return { args: ['trace', '--source', 'etherscan'], env: { ETHERSCAN_URL: fake.url, ETHERSCAN_API_KEY: 'drill-key', ETHERSCAN_RATE: '200' }, stop: fake.stop }
      },
      code: 1,
      expect: /page|paging|advance/i,
    },
    {
      name: 'Etherscan API rate-limiting forever',
      setup: async (w, prefix) => {
        const fake = await startFakeEtherscan({ transactions: [], traces: [], tokenTransfers: [] }, { apiKey: 'drill-key', rate: 10_000, head: 5_000, misbehave: 'rate-limit' })
        await cli(w, prefix, ['seeds', 'import', '--no-walk', seedsFile])
        return { args: ['trace', '--source', 'etherscan'], env: { ETHERSCAN_URL: fake.url, ETHERSCAN_API_KEY: 'drill-key', ETHERSCAN_RATE: '200' }, stop: fake.stop }
      },
      code: 1,
      expect: /rate.?limit/i,
    },
  ]
  const result: DrillResult = { runs: scenarios.length, equal: 0, recoverMs: [], failures: [] }
  try {
    for (const [i, s] of scenarios.entries()) {
      const prefix = `{drill-hostile-${i}}`
      let why: string | null = null
      try {
        const { args, env, stop } = await s.setup(world, prefix)
        try {
          const run = await cli(world, prefix, args, { env })
          result.recoverMs.push(run.ms)
          const errors = run.stderr.split('\n').filter((l) => l.startsWith('error:'))
          if (run.code !== s.code) why = `exit ${run.code}, wanted ${s.code}: ${run.stderr.trim().split('\n').pop()}`
          else if (!s.expect.test(run.stderr)) why = `the message does not name the cause (${s.expect}): ${run.stderr.trim().split('\n').pop()}`
          else if (errors.length !== 1) why = `${errors.length} error lines`
          else if (/\n\s+at /.test(run.stderr)) why = 'a stack trace was printed'
          else if (run.ms > BOUND_MS) why = `took ${Math.round(run.ms / 1000)} s (bound ${BOUND_MS / 1000} s)`
        } finally {
          await stop()
        }
      } catch (error) {
        why = `the scenario could not run: ${(error as Error).message}`
      }
      if (why === null) result.equal++
      else result.failures.push(`${s.name}: ${why}`)
      await dropPrefix(world.redis, prefix)
    }
  } finally {
    await anvil.stop()
  }
  result.notes = `${scenarios.length} faults, each ended by one clear line naming the cause`
  return result
}
