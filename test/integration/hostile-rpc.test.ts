/**
 * The node's per-address lookups (trace_filter, ots_*) against awkward chains and hostile nodes,
 * on a real anvil (a proxy in front of it plays the hostile node):
 *   - an address with self-transactions (a 0-value self-send: a wallet's "cancel") is looked up
 *     like any other, by the lookups and through `check --source rpc`;
 *   - a malformed answer is a fault of the node: exit 1, naming node, method and address, not 2;
 *   - ranges over anvil's trace_filter limit (300 blocks) are split, and the working span kept;
 *   - a node with ots_* but no trace_* is refused at detection, naming what is missing;
 *   - records past the requested toBlock (a node that ignores it) are never used;
 *   - a slow, truncating, HTML-answering or flooding node fails a lookup within the client's
 *     deadline, naming the cause, the node, the method and the address.
 *
 * The chain (blocks by name; S the looked-up address, Z the seed):
 *   b0       Z → S 50 ETH-milli                                 (Z's funding of S, before b1)
 *   b1       S → A, S → S 0 (cancel), S → S 5 wei, A → forwarder(S) (internal to S), S token → C 7
 *   b2=b1+400  S → B, A → forwarder(S), S token → C 9
 *   cut=b2+50
 *   b3=b2+100  S → C, S token → C 11, A → forwarder(S), S → S 0
 *   last=b3+300
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isExposureError } from '../../src/errors.ts'
import { createRpcAddressSource } from '../../src/sources/rpc/address-history.ts'
import { chooseAddressLookup, detectCapabilities } from '../../src/sources/rpc/capabilities.ts'
import { createRpcClient, isGivenUp, RpcError } from '../../src/sources/rpc/client.ts'
import { createOtsAddressSource } from '../../src/sources/rpc/ots-history.ts'
import type { Address, Transfer } from '../../src/types.ts'
import { startAnvil, type AnvilInstance } from '../support/anvil.ts'
import { addressOf, deployContracts, forwardTo, mineEmpty, rpcBatch, sendAndMine, tokenTransfer, type Contracts } from '../support/chain.ts'
import { runCli } from '../support/cli.ts'
import { startFaultProxy, type FaultProxy, type JsonRpcCall } from '../support/fault-proxy.ts'
import { startRedis, testPrefix, type TestRedis } from '../support/redis-server.ts'

let anvil: AnvilInstance
let server: TestRedis
let dir: string
let contracts: Contracts
let listed: Address[]
const proxies: FaultProxy[] = []
const S = addressOf(0) as Address
const A = addressOf(1) as Address
const B = addressOf(2) as Address
const C = addressOf(3) as Address
const Z = addressOf(9) as Address
const MILLI = 10n ** 15n
const blocks = { b0: 0, b1: 0, b2: 0, cut: 0, b3: 0, last: 0 }

const wei = (n: bigint) => `0x${n.toString(16)}`
const plain = (from: string, to: string, value: bigint) => ({ from, to, value: wei(value), gas: '0x5208' })

beforeAll(async () => {
  ;[anvil, server] = await Promise.all([startAnvil({ args: ['--auto-impersonate'] }), startRedis()])
  dir = await mkdtemp(join(tmpdir(), 'hostile-rpc-'))
  contracts = await deployContracts(anvil.url)
  listed = [contracts.token as Address]
  await rpcBatch(anvil.url, [S, A, Z].map((a) => ({ method: 'anvil_setBalance', params: [a, '0x56bc75e2d63100000'] })))
  const { forwarder, token } = contracts
  const call = (from: string, to: string, data: string, value = 0n) => ({ from, to, data, value: wei(value), gas: '0x30d40' })
  blocks.b0 = await sendAndMine(anvil.url, [plain(Z, S, 50n * MILLI)])
  blocks.b1 = await sendAndMine(anvil.url, [plain(S, A, MILLI), plain(S, S, 0n), plain(S, S, 5n), call(A, forwarder, forwardTo(S), 2n * MILLI), call(S, token, tokenTransfer(C, 7n))])
  await mineEmpty(anvil.url, 399)
  blocks.b2 = await sendAndMine(anvil.url, [plain(S, B, 3n * MILLI), call(A, forwarder, forwardTo(S), 4n * MILLI), call(S, token, tokenTransfer(C, 9n))])
  blocks.cut = blocks.b2 + 50
  await mineEmpty(anvil.url, 99)
  blocks.b3 = await sendAndMine(anvil.url, [plain(S, C, 6n * MILLI), call(S, token, tokenTransfer(C, 11n)), call(A, forwarder, forwardTo(S), 8n * MILLI), plain(S, S, 0n)])
  blocks.last = await mineEmpty(anvil.url, 300)
}, 60_000)

afterAll(async () => {
  for (const p of proxies) await p.stop()
  await Promise.all([anvil?.stop(), server?.stop()])
  await rm(dir, { recursive: true, force: true })
})

async function proxy(options: Parameters<typeof startFaultProxy>[1]): Promise<FaultProxy> {
  const p = await startFaultProxy(anvil.url, options)
  proxies.push(p)
  return p
}

/** A transfer as a readable key: `tx S>A 1000000000000000 @b1`. */
function key(t: Transfer): string {
  const name = (a: string) => ({ [S]: 'S', [A]: 'A', [B]: 'B', [C]: 'C', [Z]: 'Z', [contracts.forwarder]: 'F' })[a] ?? a
  const at = Object.entries(blocks).find(([, n]) => n === t.blockNumber)?.[0] ?? String(t.blockNumber)
  return `${t.kind} ${name(t.from)}>${name(t.to)} ${t.amount} @${at}${t.asset === 'ETH' ? '' : ' token'}`
}

/** S's transfers by hand, per block. */
function expectedForS(...which: ('b0' | 'b1' | 'b2' | 'b3')[]): string[] {
  const m = MILLI
  const all = {
    b0: [`tx Z>S ${50n * m} @b0`],
    b1: [`tx S>A ${m} @b1`, 'tx S>S 5 @b1', `trace F>S ${2n * m} @b1`, 'log S>C 7 @b1 token'],
    b2: [`tx S>B ${3n * m} @b2`, `trace F>S ${4n * m} @b2`, 'log S>C 9 @b2 token'],
    b3: [`tx S>C ${6n * m} @b3`, 'log S>C 11 @b3 token', `trace F>S ${8n * m} @b3`],
  }
  return which.flatMap((w) => all[w]).sort()
}

const keys = (transfers: readonly Transfer[]) => transfers.map(key).sort()

describe('self-transactions', () => {
  it('trace_filter lookup of an address with 0-value and valued self-sends: every transfer once', async () => {
    const source = createRpcAddressSource(createRpcClient({ url: anvil.url }), listed)
    expect(keys(await source.fetch(S, 0, blocks.b1 + 10))).toEqual(expectedForS('b0', 'b1'))
  })

  it('ots lookup of the same address: the same transfers', async () => {
    const source = createOtsAddressSource(createRpcClient({ url: anvil.url }), listed)
    expect(keys(await source.fetch(S, 0, blocks.b1 + 10))).toEqual(expectedForS('b0', 'b1'))
  })

  async function seededStore(name: string): Promise<Record<string, string>> {
    const env = { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix(name), EXPOSURE_ASSETS: listed.join(','), EXPOSURE_CONFIRMATIONS: '0', EXPOSURE_DUST: 'none' }
    await writeFile(join(dir, 'seeds.csv'), `address,label,source\n${Z},Seed Z,hostile rpc test\n`)
    const r = await runCli(['seeds', 'import', join(dir, 'seeds.csv')], env)
    expect(r.code, r.stderr).toBe(0)
    return env
  }

  it('`check --source rpc` through the self-sending address: exit 0, the path Z → S → A', async () => {
    const env = await seededStore('self')
    const r = await runCli(['check', '--json', '--source', 'rpc', '--rpc-url', anvil.url, A], env)
    expect(r.code, r.stderr).toBe(0)
    const [answer] = JSON.parse(r.stdout) as { downstream: { hops: number } | null }[]
    expect(answer!.downstream?.hops).toBe(2)
  }, 60_000)

  it('a malformed answer from the node: exit 1 (a fault, not bad input), naming node, method and address, never the URL\'s key', async () => {
    const broken = await proxy({
      rate: 0,
      seed: 1,
      rewriteResult: (call: JsonRpcCall, result: unknown) => {
        if (call.method !== 'trace_filter' || !Array.isArray(result) || result.length === 0) return result
        return result.map((t: { action: Record<string, unknown> }) => ({ ...t, action: { ...t.action, value: 'a lot' } }))
      },
    })
    const env = await seededStore('malformed')
    const secret = 'n0de-k3y-31415'
    const r = await runCli(['check', '--json', '--source', 'rpc', '--rpc-url', `${broken.url}/v2/${secret}?key=${secret}`, A], env)
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain(broken.url)
    expect(r.stderr).toContain('trace_filter')
    expect(r.stderr).toMatch(new RegExp(`malformed trace_filter answer for (${A}|${S})`))
    expect(r.stderr).not.toContain(secret)
  }, 60_000)
})

describe('ranges over the node\'s limit', () => {
  it('trace_filter over more than 300 blocks (anvil refuses): split, every transfer found', async () => {
    expect(blocks.last).toBeGreaterThan(800)
    const source = createRpcAddressSource(createRpcClient({ url: anvil.url }), listed)
    expect(keys(await source.fetch(B, 0, blocks.last))).toEqual([`tx S>B ${3n * MILLI} @b2`])
    expect(keys(await source.fetch(S, 0, blocks.last))).toEqual(expectedForS('b0', 'b1', 'b2', 'b3'))
  })

  it('the working span is remembered per client: the next address is read in spans the node accepts', async () => {
    const logged = await proxy({ rate: 0, seed: 2 })
    const source = createRpcAddressSource(createRpcClient({ url: logged.url }), listed)
    await source.fetch(B, 0, blocks.last)
    const width = (c: JsonRpcCall) => {
      const f = c.params[0] as { fromBlock: string; toBlock: string }
      return Number(BigInt(f.toBlock)) - Number(BigInt(f.fromBlock)) + 1
    }
    const first = logged.calls.filter((c) => c.method === 'trace_filter')
    expect(first.some((c) => width(c) > 301)).toBe(true) // the whole range was tried once
    const before = logged.calls.length
    expect(keys(await source.fetch(S, 0, blocks.last))).toEqual(expectedForS('b0', 'b1', 'b2', 'b3'))
    const second = logged.calls.slice(before).filter((c) => c.method === 'trace_filter')
    expect(second.length).toBeGreaterThan(4)
    expect(second.filter((c) => width(c) > 301)).toEqual([])
  })
})

describe('capability detection probes what the lookup calls', () => {
  it('ots_* without trace_*: refused at detection, naming the missing methods', async () => {
    const otsOnly = await proxy({ rate: 0, seed: 3, missingMethods: /^trace_/ })
    const client = createRpcClient({ url: otsOnly.url })
    const caps = await detectCapabilities(client, otsOnly.url)
    expect(caps.otsSearch).toBe(true)
    expect(caps.traceTransaction).toBe(false)
    const error = (() => {
      try {
        return chooseAddressLookup(caps, client.url)
      } catch (e) {
        return e
      }
    })()
    expect(isExposureError(error, 'RPC_ERROR')).toBe(true)
    expect((error as Error).message).toMatch(/the ots lookup lacks trace_transaction, trace_block/)
  })

  it('`trace --source rpc` on that node exits 1 at the start with that message', async () => {
    const otsOnly = await proxy({ rate: 0, seed: 4, missingMethods: /^trace_/ })
    const env = { REDIS_URL: server.url, EXPOSURE_PREFIX: testPrefix('otsonly'), EXPOSURE_CONFIRMATIONS: '0', EXPOSURE_DUST: 'none' }
    await writeFile(join(dir, 'seeds-ots.csv'), `address,label,source\n${Z},Seed Z,hostile rpc test\n`)
    expect((await runCli(['seeds', 'import', join(dir, 'seeds-ots.csv')], env)).code).toBe(0)
    const r = await runCli(['trace', '--source', 'rpc', '--rpc-url', otsOnly.url], env)
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/no complete per-address lookup: the trace_filter lookup lacks trace_filter, trace_transaction, trace_block; the ots lookup lacks trace_transaction, trace_block/)
    // Nothing reached the walk: no per-address call went to the node.
    expect(otsOnly.calls.filter((c) => c.method === 'ots_searchTransactionsBefore' && c.params[0] !== '0x00000000000000000000000000000000000e5ca1')).toEqual([])
  }, 60_000)

  it('ots_* and trace_* without trace_filter: the ots lookup is chosen', async () => {
    const noFilter = await proxy({ rate: 0, seed: 5, missingMethods: /^trace_filter$/ })
    const client = createRpcClient({ url: noFilter.url })
    expect(chooseAddressLookup(await detectCapabilities(client, noFilter.url), client.url)).toBe('ots')
  })
})

describe('records past the requested toBlock are never used', () => {
  /**
   * A node that ignores toBlock: logs to the head, trace_filter ranges 300 blocks on (anvil's
   * limit), the ots search from the head.
   */
  async function ignoringToBlock(): Promise<FaultProxy> {
    return proxy({
      rate: 0,
      seed: 6,
      rewriteCall: (call) => {
        if (call.method === 'trace_filter' || call.method === 'eth_getLogs') {
          const filter = call.params[0] as { fromBlock: string; toBlock: string }
          const to = call.method === 'eth_getLogs' ? blocks.last : Math.max(Number(BigInt(filter.toBlock)), Math.min(Number(BigInt(filter.fromBlock)) + 300, blocks.last))
          return { method: call.method, params: [{ ...filter, toBlock: wei(BigInt(to)) }, ...call.params.slice(1)] }
        }
        if (call.method === 'ots_searchTransactionsBefore') return { method: call.method, params: [call.params[0], 0, call.params[2]] }
        return call
      },
    })
  }

  it('trace_filter lookup', async () => {
    const ignoring = await ignoringToBlock()
    const source = createRpcAddressSource(createRpcClient({ url: ignoring.url }), listed)
    expect(keys(await source.fetch(S, 0, blocks.cut))).toEqual(expectedForS('b0', 'b1', 'b2'))
    // The node did send records of b3.
    expect(ignoring.calls.some((c) => c.method === 'trace_filter' && Number(BigInt((c.params[0] as { toBlock: string }).toBlock)) >= blocks.b3)).toBe(true)
  })

  it('ots lookup', async () => {
    const ignoring = await ignoringToBlock()
    const source = createOtsAddressSource(createRpcClient({ url: ignoring.url }), listed)
    expect(keys(await source.fetch(S, 0, blocks.cut))).toEqual(expectedForS('b0', 'b1', 'b2'))
    expect(ignoring.calls.some((c) => c.method === 'eth_getLogs' && Number(BigInt((c.params[0] as { toBlock: string }).toBlock)) >= blocks.b3)).toBe(true)
  })
})

describe('transport faults end a lookup within the deadline, naming the cause', () => {
  // A small deadline and far more attempts than it allows: without the deadline these would
  // outlast the hang guard.
  const FAST = { deadlineMs: 1_500, timeoutMs: 400, maxAttempts: 1_000, backoffMs: 20, maxBackoffMs: 100, breakerThreshold: 1_000, maxResponseBytes: 1024 * 1024 }
  const cases = [
    { name: 'a node answering after 5 s', options: { rate: 0, delayMs: 5_000 }, code: 'RPC_UNAVAILABLE', cause: /no answer within 0\.4 s \(timeout\)/ },
    { name: 'truncated answers', options: { rate: 1, faults: ['truncate'] as const }, code: 'RPC_UNAVAILABLE', cause: /closed mid-answer .*truncated body/ },
    { name: 'HTML pages', options: { rate: 1, faults: ['html'] as const }, code: 'RPC_UNAVAILABLE', cause: /an HTML page instead of JSON \(HTTP 200, title "Just a moment\.\.\."\)/ },
    { name: '200 MB of junk', options: { rate: 1, faults: ['huge'] as const }, code: 'RPC_ERROR', cause: /with more than 1 MiB \(maxResponseBytes\)/ },
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const hostile = await proxy({ seed: 7, ...c.options })
      const source = createRpcAddressSource(createRpcClient({ url: hostile.url, ...FAST }), listed)
      const error = await source.fetch(S, 0, blocks.b1 + 10).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RpcError)
      const e = error as RpcError
      expect(e.code).toBe(c.code)
      expect(e.shortMessage).toMatch(c.cause)
      expect(e.shortMessage).toContain(hostile.url)
      expect(e.shortMessage).toMatch(/trace_filter|eth_getLogs/)
      expect(e.shortMessage).toContain(`looking up ${S}`)
      expect(isGivenUp(e)).toBe(c.code !== 'RPC_ERROR')
      if (c.name.includes('junk')) expect(hostile.hugeWritten).toBeLessThan(64 * 1024 * 1024)
    }, 15_000)
  }
})
