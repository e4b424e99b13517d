import { BaseError } from '../../errors.ts'
import { createRpcClient, RpcError, type RpcClient } from './client.ts'

/** What a node offers, detected once at start (and stored so `exposure status` can show it). */
export interface RpcCapabilities {
  chainId: number
  /** Head block when detected. */
  head: number
  /** `eth_getBlockReceipts` (else one `eth_getTransactionReceipt` per transaction). */
  blockReceipts: boolean
  /** `trace_block` / `trace_filter` / `trace_transaction` (Erigon, Nethermind, Reth, anvil). */
  traceBlock: boolean
  traceFilter: boolean
  /** Absent in capabilities stored before it was probed. */
  traceTransaction: boolean
  /** Otterscan's `ots_searchTransactionsBefore` (what the ots lookup pages); absent in capabilities stored before it was probed. */
  otsSearch: boolean
  /** `debug_traceBlockByNumber` with `callTracer` (geth). */
  debugCallTracer: boolean
  /** Otterscan's `ots_*` (ots_searchTransactionsBefore/After). */
  otterscan: boolean
  /** The `finalized` block tag; null when the node has none. */
  finalized: number | null
}

/**
 * Probes the node. The first call uses a short retry budget, so an unreachable node is reported
 * within seconds (RPC_UNAVAILABLE naming the URL's origin) rather than after a long backoff.
 */
export async function detectCapabilities(client: RpcClient, url: string): Promise<RpcCapabilities> {
  const quick = createRpcClient({ url, maxAttempts: 3, timeoutMs: 3_000, backoffMs: 200 })
  let chainIdHex: string
  try {
    chainIdHex = await quick.call<string>('eth_chainId')
  } catch (error) {
    const why = error instanceof BaseError ? error.shortMessage.replace(`eth_chainId on the node at ${quick.url} `, 'eth_chainId ') : (error as Error).message
    throw new BaseError('RPC_UNAVAILABLE', `cannot reach the Ethereum node at ${quick.url}: ${why}`, { field: 'rpcUrl', value: quick.url }, { cause: error })
  }
  const head = Number(BigInt(await client.call<string>('eth_blockNumber')))
  /**
   * Whether `method` answers. `strict`: any error answered means no (the call must work as the
   * sources use it); else only "method not found" means no (a probe with a made-up argument, e.g.
   * an unknown transaction hash, may fairly be answered "not found").
   */
  const probe = async (method: string, params: unknown[], strict = true): Promise<boolean> => {
    try {
      await client.call(method, params)
      return true
    } catch (error) {
      if (!(error instanceof BaseError && error.code === 'RPC_ERROR')) throw error
      if (strict) return false
      // "transaction does not exist" is an answer of the method; "method not found" is not.
      return !(error instanceof RpcError && (error.rpcCode === -32601 || NO_SUCH_METHOD.test(error.shortMessage)))
    }
  }
  const tag = `0x${head.toString(16)}`
  const [blockReceipts, traceBlock, traceFilter, traceTransaction, debugCallTracer, otterscan, otsSearch] = [
    await probe('eth_getBlockReceipts', [tag]),
    await probe('trace_block', [tag]),
    await probe('trace_filter', [{ fromBlock: tag, toBlock: tag, count: 1 }]),
    await probe('trace_transaction', [UNKNOWN_HASH], false),
    await probe('debug_traceBlockByNumber', [tag, { tracer: 'callTracer' }]),
    await probe('ots_getApiLevel', []),
    // An address without history: the search is cheap, and must answer a page.
    await probe('ots_searchTransactionsBefore', [QUIET_ADDRESS, 0, 1]),
  ]
  let finalized: number | null = null
  try {
    const block = await client.call<{ number?: string } | null>('eth_getBlockByNumber', ['finalized', false])
    if (block && typeof block.number === 'string') finalized = Number(BigInt(block.number))
  } catch (error) {
    if (!(error instanceof BaseError && error.code === 'RPC_ERROR')) throw error
  }
  return { chainId: Number(BigInt(chainIdHex)), head, blockReceipts, traceBlock, traceFilter, traceTransaction, otsSearch, debugCallTracer, otterscan, finalized }
}

const NO_SUCH_METHOD = /method|namespace|not enabled|not implemented|unsupported|not supported/i
const UNKNOWN_HASH = `0x${'00'.repeat(32)}`
const QUIET_ADDRESS = '0x00000000000000000000000000000000000e5ca1'

/** The per-address lookups (src/sources/rpc/address-history.ts, ots-history.ts), by the name the walk meta records. */
export type AddressLookup = 'trace_filter' | 'ots'

/** Every node method each lookup calls (eth_getLogs aside: every node has it). */
const LOOKUP_NEEDS: Record<AddressLookup, readonly (readonly [keyof RpcCapabilities, string])[]> = {
  trace_filter: [
    ['traceFilter', 'trace_filter'],
    ['traceTransaction', 'trace_transaction'],
    ['traceBlock', 'trace_block'],
  ],
  ots: [
    ['otsSearch', 'ots_searchTransactionsBefore'],
    ['traceTransaction', 'trace_transaction'],
    ['traceBlock', 'trace_block'],
  ],
}

/** The methods of `lookup` the node lacks (by the probes of detectCapabilities). */
export function missingForLookup(caps: RpcCapabilities, lookup: AddressLookup): string[] {
  return LOOKUP_NEEDS[lookup].filter(([flag]) => caps[flag] !== true).map(([, method]) => method)
}

/**
 * The per-address lookup to use: `trace_filter` where the node has every method it calls (fewest
 * calls per address, bench/sync.ts), else `ots`. A node that has neither in full fails here, at
 * the start, naming what each lookup lacks (not on the first walk job).
 */
export function chooseAddressLookup(caps: RpcCapabilities, node: string): AddressLookup {
  const missing = { trace_filter: missingForLookup(caps, 'trace_filter'), ots: missingForLookup(caps, 'ots') }
  if (missing.trace_filter.length === 0) return 'trace_filter'
  if (missing.ots.length === 0) return 'ots'
  const lacks = (lookup: AddressLookup) => `the ${lookup} lookup lacks ${missing[lookup].join(', ')}`
  const hint = caps.otsSearch && !caps.traceTransaction
    ? ' (the node has Otterscan\'s search but not the trace namespace, which both lookups need for internal transfers; on Erigon add trace to --http.api)'
    : ''
  throw new BaseError('RPC_ERROR', `the node at ${node} offers no complete per-address lookup: ${lacks('trace_filter')}; ${lacks('ots')}${hint}. Sync blocks (exposure sync) and walk with --source store`, { field: 'rpcUrl', node, missing: [...new Set([...missing.trace_filter, ...missing.ots])].join(',') })
}

/** One line for people: `trace_block ✓ …`. */
export function describeCapabilities(c: RpcCapabilities): string {
  const flag = (on: boolean, name: string) => `${name} ${on ? 'yes' : 'no'}`
  return [
    `chain ${c.chainId}`,
    flag(c.blockReceipts, 'eth_getBlockReceipts'),
    flag(c.traceBlock, 'trace_block'),
    flag(c.traceFilter, 'trace_filter'),
    ...(c.traceTransaction === undefined ? [] : [flag(c.traceTransaction, 'trace_transaction')]),
    flag(c.debugCallTracer, 'debug callTracer'),
    c.otsSearch === undefined ? flag(c.otterscan, 'ots_*') : flag(c.otterscan && c.otsSearch, 'ots_*'),
    `finalized ${c.finalized === null ? 'no tag' : c.finalized}`,
  ].join(', ')
}
