import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_LISTED_TOKENS } from '../../src/sources/assets.ts'
import { runCli } from '../support/cli.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

/**
 * The real Bybit theft (Feb 2025): outbound transfers of the exploiter and two laundering hops,
 * with the address-poisoning spam that surrounded them (fake tokens named like ETH/stETH, sent to
 * look-alike addresses). Through the real CLI: the genuine flow is traced to the expected hops and
 * no look-alike address is reached.
 */
const DIR = fileURLToPath(new URL('../../fixtures/bybit-trace/', import.meta.url))
const METH = '0xd5f7838f5c461feff7fe49ea5ebaf7728bb0adfa'
const CMETH = '0xe6829d9a7ee3040e1276fa75293bde931859e8fa'
let server: TestRedis

beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await server?.stop()
})

async function csvColumn(file: string): Promise<string[][]> {
  return (await readFile(join(DIR, file), 'utf8')).trim().split(/\r?\n/).slice(1).map((l) => l.split(','))
}

interface Answer {
  address: string
  risk: string
  downstream: { hops: number; path: { txHash: string; asset: string }[] } | null
}

async function traceWith(assets: readonly string[]): Promise<Map<string, Answer>> {
  const g = ['--redis-url', server.url, '--prefix', testPrefix('bybit')]
  const env = { EXPOSURE_ASSETS: assets.join(',') }
  for (const args of [['import', DIR], ['seeds', 'import', join(DIR, 'seeds.csv')], ['trace', '--direction', 'downstream']]) {
    const result = await runCli([...g, ...args], env)
    expect(result.code, result.stderr).toBe(0)
  }
  const addresses = [...(await csvColumn('expected_hops.csv')).map((r) => r[0]!), ...(await csvColumn('spam_addresses.csv')).map((r) => r[0]!)]
  const check = await runCli([...g, 'check', '--json', ...addresses], env)
  expect(check.code, check.stderr).toBe(0)
  return new Map((JSON.parse(check.stdout) as Answer[]).map((a) => [a.address.toLowerCase(), a]))
}

describe('the real Bybit 2025 fund flow', () => {
  it('traces the genuine transfers (ETH, stETH, mETH, cmETH) to the expected hops and ignores the poisoning spam', async () => {
    const answers = await traceWith([...DEFAULT_LISTED_TOKENS, METH, CMETH])
    const expected = await csvColumn('expected_hops.csv')
    expect(expected.length).toBe(86)
    const got = Object.fromEntries(expected.map(([a]) => [a!, answers.get(a!)?.downstream?.hops ?? null]))
    expect(got).toEqual(Object.fromEntries(expected.map(([a, h]) => [a!, Number(h)])))
    for (const [address] of await csvColumn('spam_addresses.csv')) {
      expect(answers.get(address!)?.downstream, address).toBeNull()
      expect(answers.get(address!)?.risk, address).toBe('none')
    }
    // Every witness step is a real transaction of the trace, never a spam token.
    const transactions = new Set((await csvColumn('transactions.csv')).map((r) => r[0]))
    for (const answer of answers.values()) {
      for (const step of answer.downstream?.path ?? []) {
        expect(transactions.has(step.txHash)).toBe(true)
        expect(['ETH', ...[...DEFAULT_LISTED_TOKENS, METH, CMETH].map((t) => t.toLowerCase())]).toContain(step.asset === 'ETH' ? 'ETH' : step.asset.toLowerCase())
      }
    }
  })

  it('with the default asset list, mETH and cmETH do not count: the hops change exactly where they carried the funds', async () => {
    const answers = await traceWith(DEFAULT_LISTED_TOKENS)
    expect(answers.get('0x1542368a03ad1f03d96d51b414f4738961cf4443')?.downstream?.hops).toBe(2)
    expect(answers.get('0x04708077eca6bb527a5bbbd6358ffb043a9c1c14')?.downstream ?? null).toBeNull()
  })
})
