/**
 * Per-address lookups on a node, for the lazy walk (no block sync needed):
 *   trace_filter {fromAddress:[a]} and {toAddress:[a]}  every call trace from / to the address,
 *       the top-level one standing for the external transaction (a top-level call with value and
 *       no error is exactly a successful external transaction with value and a recipient); a
 *       trace both from and to the address (a self-send: a wallet's "cancel") comes back from
 *       both queries and is kept once;
 *   trace_transaction(h) / trace_block(n)                for transactions with an internal call of
 *       the address: the ancestor rule (a call rolled back by a reverted parent) needs the tree;
 *       one trace_block per block where two or more such transactions sit (a busy contract's
 *       history costs a call per block, not per transaction);
 *   eth_getLogs {address: listed, topics: [Transfer, a]} and [Transfer, null, a]  token transfers.
 *
 * Ranges: trace_filter and eth_getLogs go over the whole range in one call until the node refuses
 * it ("block range too large, limited to 300" on anvil, "query returned more than 10000 results",
 * an answer over the client's byte limit); the span is then cut (to the limit the node names, else
 * halved) and the range read in spans, and the working span is remembered per client and method.
 * Every record outside [fromBlock, toBlock] is dropped, whatever the node sent.
 *
 * A malformed answer is a fault of the node (RPC_ERROR, exit 1), named with the node's origin,
 * the method, the address and the blocks.
 */
import { BaseError } from '../../errors.ts'
import { ETH, type Address, type Transfer } from '../../types.ts'
import { withinBlocks, type AddressHistorySource } from '../lazy-history.ts'
import { RpcError, toHex, type RpcCall, type RpcClient } from './client.ts'
import { ERC20_TRANSFER_TOPIC, RpcDecodeError, decodeParityTraces, transfersFromDecodedTraces, transfersFromLogs, type ParityTrace, type RpcLog } from './decode.ts'

export function createRpcAddressSource(client: RpcClient, listedTokens: readonly Address[]): AddressHistorySource {
  const listed = new Set<string>(listedTokens)
  const startCalls = client.stats.calls
  return {
    name: 'rpc-address',
    requests: () => client.stats.calls - startCalls,
    async fetch(address: Address, fromBlock: number, toBlock: number): Promise<Transfer[]> {
      return namingFaults(client, address, fromBlock, toBlock, async () => {
        const [traces, logs] = await Promise.all([
          readSpans<ParityTrace>(client, 'trace_filter', fromBlock, toBlock, (range) => [
            { method: 'trace_filter', params: [{ ...range, fromAddress: [address] }] },
            { method: 'trace_filter', params: [{ ...range, toAddress: [address] }] },
          ]),
          tokenLogs(client, address, listedTokens, fromBlock, toBlock),
        ])
        const mine = uniqueTraces(traces).filter((t) => inRange(t.blockNumber, fromBlock, toBlock))
        const out: Transfer[] = []
        // External transactions: top-level call traces.
        const topLevel = decoding('trace_filter', () => decodeParityTraces(mine.filter((t) => !Array.isArray(t.traceAddress) || t.traceAddress.length === 0)))
        for (const t of topLevel) {
          if (t.type !== 'call' || t.callType !== 'call' || t.value <= 0n || t.error !== null || t.from === null || t.to === null || t.transactionHash === null || t.transactionIndex === null) continue
          if (t.from !== address && t.to !== address) continue
          out.push({ from: t.from, to: t.to, amount: t.value, asset: ETH, blockNumber: t.blockNumber, transactionIndex: t.transactionIndex, txHash: t.transactionHash, kind: 'tx', subIndex: 0 })
        }
        // Internal calls: decide with the whole transaction's tree.
        const internal = mine.filter((t) => Array.isArray(t.traceAddress) && t.traceAddress.length > 0 && t.type === 'call').map((t) => ({ hash: String(t.transactionHash), block: Number(t.blockNumber) }))
        out.push(...(await internalTransfers(client, address, internal)))
        out.push(...logTransfers(logs, listed))
        return withinBlocks(out, fromBlock, toBlock)
      })
    },
  }
}

/** Token transfers of `address` (listed tokens only), from eth_getLogs by topic in spans. */
export async function tokenLogs(client: RpcClient, address: Address, listedTokens: readonly Address[], fromBlock: number, toBlock: number): Promise<RpcLog[]> {
  if (listedTokens.length === 0) return []
  const word = `0x${address.slice(2).padStart(64, '0')}`
  const logs = await readSpans<RpcLog>(client, 'eth_getLogs', fromBlock, toBlock, (range) => [
    { method: 'eth_getLogs', params: [{ ...range, address: [...listedTokens], topics: [ERC20_TRANSFER_TOPIC, word] }] },
    { method: 'eth_getLogs', params: [{ ...range, address: [...listedTokens], topics: [ERC20_TRANSFER_TOPIC, null, word] }] },
  ])
  return logs.filter((log) => log === null || typeof log !== 'object' || inRange(log.blockNumber, fromBlock, toBlock))
}

/** The counted token transfers of the logs, each once (a self-transfer's log matches both topics). */
export function logTransfers(logs: readonly RpcLog[], listed: ReadonlySet<string>): Transfer[] {
  const out: Transfer[] = []
  const keys = new Set<string>()
  for (const t of decoding('eth_getLogs', () => transfersFromLogs(logs, listed))) {
    const key = `${t.txHash}/${t.subIndex}`
    if (keys.has(key)) continue
    keys.add(key)
    const { timestamp: _t, ...rest } = t
    out.push(rest)
  }
  return out
}

/**
 * The internal transfers of `address` in the given transactions, decided on whole trees: one
 * trace_block for a block holding two or more of them, else trace_transaction.
 */
export async function internalTransfers(client: RpcClient, address: Address, txs: readonly { hash: string; block: number }[]): Promise<Transfer[]> {
  const byBlock = new Map<number, Set<string>>()
  for (const { hash, block } of txs) (byBlock.get(block) ?? byBlock.set(block, new Set()).get(block)!).add(hash.toLowerCase())
  const calls: { method: string; params: unknown[] }[] = []
  const wanted: (ReadonlySet<string>)[] = []
  for (const [block, hashes] of byBlock) {
    if (hashes.size >= 2) {
      calls.push({ method: 'trace_block', params: [toHex(block)] })
      wanted.push(hashes)
    } else {
      for (const h of hashes) {
        calls.push({ method: 'trace_transaction', params: [h] })
        wanted.push(hashes)
      }
    }
  }
  const trees = calls.length === 0 ? [] : await client.batch<ParityTrace[]>(calls)
  const out: Transfer[] = []
  const seen = new Set<string>()
  trees.forEach((tree, i) => {
    const hashes = wanted[i]!
    const method = calls[i]!.method
    if (!Array.isArray(tree)) throw new RpcDecodeError(`expected the traces as an array, got ${tree === null ? 'null' : typeof tree}`, { field: method, value: String(calls[i]!.params[0]) })
    const mine = tree.filter((t) => t !== null && typeof t === 'object' && t.transactionHash !== null && t.transactionHash !== undefined && hashes.has(String(t.transactionHash).toLowerCase()))
    for (const t of decoding(method, () => transfersFromDecodedTraces(decodeParityTraces(mine)))) {
      if (t.from !== address && t.to !== address) continue
      const key = `${t.txHash}/${t.subIndex}`
      if (seen.has(key)) continue
      seen.add(key)
      out.push(t)
    }
  })
  return out
}

/** Traces without repeats: the same trace (transaction and trace address) from two queries is kept once. */
export function uniqueTraces(traces: readonly ParityTrace[]): ParityTrace[] {
  const seen = new Set<string>()
  const out: ParityTrace[] = []
  for (const t of traces) {
    if (t === null || typeof t !== 'object') throw new RpcDecodeError('expected a trace object', { field: 'traces', value: JSON.stringify(t) })
    const where = t.transactionHash === null || t.transactionHash === undefined ? `block ${String(t.blockNumber)} ${JSON.stringify(t.action)}` : String(t.transactionHash).toLowerCase()
    const key = `${where}|${Array.isArray(t.traceAddress) ? t.traceAddress.join(',') : String(t.traceAddress)}|${t.type}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(t)
  }
  return out
}

function inRange(block: unknown, fromBlock: number, toBlock: number): boolean {
  let n: number
  try {
    n = typeof block === 'number' ? block : Number(BigInt(String(block)))
  } catch {
    return true // malformed: kept, so the decoder names it
  }
  return !Number.isFinite(n) || (n >= fromBlock && n <= toBlock)
}

// ---------------------------------------------------------------------------------------------
// Adaptive spans

/** A node refusing a range: too many blocks, too many results, or too large an answer. */
const RANGE_REFUSED = /block range|range (is )?too (large|big|wide)|limited to \d+|max(imum)? (block )?range|too many blocks|query returned more than|too many results|result window|response size|exceed(s|ed)? .*(range|blocks|results)|log response size/i
const LIMIT_NAMED = /limited to (\d+)|max(?:imum)? (?:block )?range(?: of| is)? (\d+)/i

interface Span {
  /** Blocks per call now; Infinity: the whole range. */
  span: number
  /** A span the node named as its limit: never grow past it. */
  ceiling: number
}

/** The working span per client and method (a node's limits belong to the node). */
const spans = new WeakMap<RpcClient, Map<string, Span>>()
/** Answers over the byte limit in a row (each halving the span) before giving up. */
const MAX_OVERSIZED = 6
/** Spans sent together in one batch once the node's limit is known. */
const SPANS_PER_BATCH = 8

export function isRangeRefused(error: unknown): boolean {
  if (error instanceof RpcError && error.fault === 'too-large') return true
  return error instanceof BaseError && error.code === 'RPC_ERROR' && RANGE_REFUSED.test(error.shortMessage)
}

/**
 * The answers (arrays, concatenated) of `calls(range)` over [fromBlock, toBlock], in spans the
 * node accepts. `calls` gives the calls of one span; all their answers must be arrays.
 */
export async function readSpans<T>(client: RpcClient, method: string, fromBlock: number, toBlock: number, calls: (range: { fromBlock: string; toBlock: string }) => RpcCall[]): Promise<T[]> {
  if (toBlock < fromBlock) return []
  let byMethod = spans.get(client)
  if (!byMethod) spans.set(client, (byMethod = new Map()))
  const state = byMethod.get(method) ?? { span: Number.POSITIVE_INFINITY, ceiling: Number.POSITIVE_INFINITY }
  byMethod.set(method, state)
  const out: T[] = []
  let start = fromBlock
  // Answers over the byte limit shrink the span too, but a node sending junk would make every
  // span too large: a few in a row without an answer are enough.
  let oversized = 0
  while (start <= toBlock) {
    const ranges: [number, number][] = []
    let s = start
    const perBatch = Number.isFinite(state.span) ? SPANS_PER_BATCH : 1
    while (s <= toBlock && ranges.length < perBatch) {
      const e = Number.isFinite(state.span) ? Math.min(toBlock, s + state.span - 1) : toBlock
      ranges.push([s, e])
      s = e + 1
    }
    const batch = ranges.flatMap(([a, b]) => calls({ fromBlock: toHex(a), toBlock: toHex(b) }))
    let answers: unknown[]
    try {
      answers = await client.batch<unknown>(batch)
    } catch (error) {
      const tried = ranges[0]![1] - ranges[0]![0] + 1
      if (!isRangeRefused(error) || tried <= 1) throw error
      if (error instanceof RpcError && error.fault === 'too-large' && ++oversized > MAX_OVERSIZED) throw error
      const named = LIMIT_NAMED.exec(error instanceof BaseError ? error.shortMessage : '')
      const limit = named ? Number(named[1] ?? named[2]) : NaN
      if (Number.isFinite(limit) && limit >= 1 && limit < tried) {
        state.span = limit
        state.ceiling = limit
      } else {
        state.span = Math.max(1, Math.floor(tried / 2))
      }
      continue
    }
    answers.forEach((answer, i) => {
      if (!Array.isArray(answer)) throw new RpcDecodeError(`expected an array, got ${answer === null ? 'null' : typeof answer}`, { field: batch[i]!.method })
      for (const item of answer) out.push(item as T)
    })
    start = s
    oversized = 0
    // A limit by results (not blocks) depends on the address: grow back towards the ceiling.
    if (Number.isFinite(state.span) && state.span < state.ceiling) state.span = Math.min(state.ceiling, state.span * 2)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Faults named

/** Runs a decoder; its RpcDecodeError gets the method that sent the payload. */
export function decoding<T>(method: string, decode: () => T): T {
  try {
    return decode()
  } catch (error) {
    if (error instanceof RpcDecodeError && error.details['method'] === undefined) {
      throw new RpcDecodeError(error.shortMessage, { ...error.details, method })
    }
    throw error
  }
}

/**
 * Runs one address's lookup: a malformed answer becomes RPC_ERROR naming the node, the method,
 * the address and the blocks (a data fault of the node, never bad input).
 */
export async function namingFaults<T>(client: RpcClient, address: Address, fromBlock: number, toBlock: number, lookup: () => Promise<T>): Promise<T> {
  try {
    return await lookup()
  } catch (error) {
    if (error instanceof RpcDecodeError) {
      const method = error.details['method'] ?? error.details.field ?? 'an answer'
      const { method: _m, ...details } = error.details
      throw new BaseError('RPC_ERROR', `the node at ${client.url} sent a malformed ${method} answer for ${address} (blocks ${fromBlock}-${toBlock}): ${error.shortMessage}`, { ...details, node: client.url, address }, { cause: error })
    }
    if (error instanceof BaseError && error.details['address'] === undefined) {
      // Name the address the lookup was for (transport faults name the node and method already).
      const wrapped = new RpcError(error.code, `${error.shortMessage} (looking up ${address}, blocks ${fromBlock}-${toBlock})`, error instanceof RpcError ? error.rpcCode : null, { ...error.details, address }, error, error instanceof RpcError ? error.fault : null)
      throw wrapped
    }
    throw error
  }
}
