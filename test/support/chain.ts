/**
 * Chain-state helpers: build scenarios with real transactions on a local anvil started with
 * `--auto-impersonate` (so any address can send through eth_sendTransaction without keys).
 * Transactions go out as JSON-RPC batches with automine off, then `evm_mine`: thousands of
 * transactions take seconds.
 *
 * Contracts (hand-assembled runtime code, explained in test/integration/anvil-decode.test.ts):
 *   forwarder  sends msg.value to calldata[0:32], reverts if that fails   (internal transfer)
 *   bouncer    forwards msg.value to calldata[0:32], then reverts          (rolled back)
 *   swallower  calls calldata[0:32] with msg.value and calldata[32:64], ignores failure
 *   token      emits Transfer(msg.sender, calldata[0:32], calldata[32:64]) (the listed "token")
 *   fake       emits Transfer(calldata[0:32], calldata[32:64], calldata[64:96]): any sender, any
 *              recipient (address poisoning / framing); never listed
 */
import { AbiCoder } from 'ethers'

export const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'
const FORWARDER = '600060006000600034600035' + '5af1' + '601657' + '60006000fd' + '5b00'
const BOUNCER = '600060006000600034600035' + '5af1' + '50' + '60006000fd'
const SWALLOWER = '602060206000' + '37' + '600060006020600034600035' + '5af1' + '50' + '00'
const TOKEN = '602035' + '600052' + '600035' + '33' + `7f${TRANSFER_TOPIC.slice(2)}` + '60206000' + 'a3' + '00'
const FAKE = '604035' + '600052' + '602035' + '600035' + `7f${TRANSFER_TOPIC.slice(2)}` + '60206000' + 'a3' + '00'

/** Anvil's first default account (funded). */
export const FUNDER = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'

const abi = AbiCoder.defaultAbiCoder()
let id = 1

export async function rpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const [result] = await rpcBatch<T>(url, [{ method, params }])
  return result as T
}

export async function rpcBatch<T = unknown>(url: string, calls: { method: string; params: unknown[] }[]): Promise<T[]> {
  if (calls.length === 0) return []
  const body = calls.map((c) => ({ jsonrpc: '2.0', id: id++, method: c.method, params: c.params }))
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const answers = (await response.json()) as { id: number; result?: T; error?: { message: string } }[]
  const byId = new Map(answers.map((a) => [a.id, a]))
  return body.map((b) => {
    const a = byId.get(b.id)
    if (!a || a.error) throw new Error(`${b.method}: ${a?.error?.message ?? 'no answer'}`)
    return a.result as T
  })
}

function initCode(runtime: string): string {
  const length = runtime.length / 2
  const len = length.toString(16).padStart(2, '0')
  return `0x60${len}600c60003960${len}6000f3${runtime}`
}

export interface Contracts {
  forwarder: string
  bouncer: string
  swallower: string
  token: string
  fake: string
}

/** Deploys the five contracts in one block; turns automine off for the rest of the test. */
export async function deployContracts(url: string): Promise<Contracts> {
  await rpc(url, 'evm_setAutomine', [false])
  const runtimes = [FORWARDER, BOUNCER, SWALLOWER, TOKEN, FAKE]
  const first = Number(BigInt(await rpc<string>(url, 'eth_getTransactionCount', [FUNDER, 'pending'])))
  const hashes = await rpcBatch<string>(url, runtimes.map((r, i) => ({ method: 'eth_sendTransaction', params: [{ from: FUNDER, data: initCode(r), gas: '0x30d40', nonce: `0x${(first + i).toString(16)}` }] })))
  await rpc(url, 'evm_mine', [])
  const receipts = await rpcBatch<{ contractAddress: string; status: string }>(url, hashes.map((h) => ({ method: 'eth_getTransactionReceipt', params: [h] })))
  const [forwarder, bouncer, swallower, token, fake] = receipts.map((r) => {
    if (r.status !== '0x1') throw new Error('deployment failed')
    return r.contractAddress.toLowerCase()
  }) as [string, string, string, string, string]
  return { forwarder, bouncer, swallower, token, fake }
}

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function addressOf(i: number): string {
  return `0x${(0xa0000 + i).toString(16).padStart(40, '0')}`
}

export interface RandomChain {
  contracts: Contracts
  addresses: string[]
  seeds: string[]
  labels: { address: string; label: string; category: string }[]
  firstBlock: number
  lastBlock: number
  transactions: number
}

export interface RandomChainOptions {
  seed: number
  blocks: number
  txPerBlock: number
  addresses?: number
}

/**
 * A random chain of real transactions among `addresses` accounts (funded with anvil_setBalance):
 * plain ETH transfers (some zero-value), forwards through the forwarder (internal calls), bounced
 * forwards (reverted), swallowed bounces (rolled-back inner call, successful tx), listed-token
 * transfers, fake-token transfers naming a seed as sender, and reverted transactions with value.
 */
export async function buildRandomChain(url: string, options: RandomChainOptions): Promise<RandomChain> {
  const contracts = await deployContracts(url)
  const n = options.addresses ?? 40
  const random = prng(options.seed)
  const addresses = Array.from({ length: n }, (_, i) => addressOf(i))
  await rpcBatch(url, addresses.map((a) => ({ method: 'anvil_setBalance', params: [a, '0x56bc75e2d63100000'] }))) // 100 ETH
  const seeds = [addresses[0]!, addresses[1]!]
  const labels = [{ address: addresses[2]!, label: 'Some Exchange', category: 'exchange' }]
  const pick = () => addresses[Math.floor(random() * n)]!
  const wei = () => `0x${(BigInt(Math.floor(random() * 1000) + 1) * 10n ** 15n).toString(16)}`
  let firstBlock = -1
  let transactions = 0
  // Explicit nonces: a batch may be handled concurrently, and two sends of one sender must not race.
  const nonces = new Map<string, number>()
  const nonce = (from: string) => {
    const n = nonces.get(from) ?? 0
    nonces.set(from, n + 1)
    return `0x${n.toString(16)}`
  }
  for (let b = 0; b < options.blocks; b++) {
    const calls: { method: string; params: unknown[] }[] = []
    for (let t = 0; t < options.txPerBlock; t++) {
      // Early blocks favour the seeds as senders so that exposure spreads.
      const from = b < 2 && random() < 0.5 ? seeds[Math.floor(random() * 2)]! : pick()
      let to = pick()
      if (to === from) to = addresses[(addresses.indexOf(from) + 1) % n]!
      const r = random()
      let tx: Record<string, string>
      if (r < 0.45) tx = { from, to, value: random() < 0.1 ? '0x0' : wei(), gas: '0x5208' }
      else if (r < 0.6) tx = { from, to: contracts.forwarder, value: wei(), data: abi.encode(['address'], [to]), gas: '0x30d40' }
      else if (r < 0.65) tx = { from, to: contracts.bouncer, value: wei(), data: abi.encode(['address'], [to]), gas: '0x30d40' }
      else if (r < 0.7) tx = { from, to: contracts.swallower, value: wei(), data: abi.encode(['address', 'address'], [contracts.bouncer, to]), gas: '0x30d40' }
      else if (r < 0.88) tx = { from, to: contracts.token, data: abi.encode(['address', 'uint256'], [to, BigInt(Math.floor(random() * 10_000))]), gas: '0x30d40' }
      else tx = { from, to: contracts.fake, data: abi.encode(['address', 'address', 'uint256'], [seeds[0]!, to, 5n]), gas: '0x30d40' }
      calls.push({ method: 'eth_sendTransaction', params: [{ ...tx, gasPrice: '0x77359400', nonce: nonce(from) }] })
    }
    await rpcBatch(url, calls)
    await rpc(url, 'evm_mine', [])
    transactions += calls.length
    if (firstBlock < 0) firstBlock = Number(BigInt(await rpc<string>(url, 'eth_blockNumber')))
  }
  const lastBlock = Number(BigInt(await rpc<string>(url, 'eth_blockNumber')))
  return { contracts, addresses, seeds, labels, firstBlock, lastBlock, transactions }
}

/** A transaction for eth_sendTransaction (hex strings; `nonce` is filled in). */
export type TxRequest = Record<string, string>

/**
 * Sends `txs` (in order, explicit nonces from each sender's pending count) and mines them into one
 * block, checking every receipt; returns the block's number. Needs automine off (deployContracts).
 */
export async function sendAndMine(url: string, txs: readonly TxRequest[]): Promise<number> {
  const senders = [...new Set(txs.map((t) => t['from']!.toLowerCase()))]
  const counts = await rpcBatch<string>(url, senders.map((s) => ({ method: 'eth_getTransactionCount', params: [s, 'pending'] })))
  const next = new Map(senders.map((s, i) => [s, Number(BigInt(counts[i]!))]))
  const hashes = await rpcBatch<string>(url, txs.map((t) => {
    const from = t['from']!.toLowerCase()
    const nonce = next.get(from)!
    next.set(from, nonce + 1)
    return { method: 'eth_sendTransaction', params: [{ gasPrice: '0x77359400', ...t, nonce: `0x${nonce.toString(16)}` }] }
  }))
  await rpc(url, 'evm_mine', [])
  const receipts = await rpcBatch<{ blockNumber: string; status: string } | null>(url, hashes.map((h) => ({ method: 'eth_getTransactionReceipt', params: [h] })))
  const blocks = new Set(receipts.map((r) => r?.blockNumber))
  if (blocks.size !== 1 || receipts.some((r) => r === null)) throw new Error('sendAndMine: not every transaction was mined into one block')
  return Number(BigInt(receipts[0]!.blockNumber))
}

/** Mines `n` empty blocks at once (anvil_mine); returns the new head. */
export async function mineEmpty(url: string, n: number): Promise<number> {
  await rpc(url, 'anvil_mine', [`0x${n.toString(16)}`])
  return Number(BigInt(await rpc<string>(url, 'eth_blockNumber')))
}

/** Calldata of the forwarder (sends msg.value to `to`). */
export function forwardTo(to: string): string {
  return abi.encode(['address'], [to])
}

/** Calldata of the listed token (Transfer(msg.sender, to, amount)). */
export function tokenTransfer(to: string, amount: bigint): string {
  return abi.encode(['address', 'uint256'], [to, amount])
}
