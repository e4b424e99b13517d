import { BaseError } from '../../errors.ts'
import { createRpcClient, isMethodNotFound, type RpcClient } from './client.ts'

/** What a node offers, detected once at start (and stored so `exposure status` can show it). */
export interface RpcCapabilities {
  chainId: number
  /** Head block when detected. */
  head: number
  /** `eth_getBlockReceipts` (else one `eth_getTransactionReceipt` per transaction). */
  blockReceipts: boolean
  /** `trace_block` / `trace_filter` (Erigon, Nethermind, Reth, anvil). */
  traceBlock: boolean
  traceFilter: boolean
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
    throw new BaseError('RPC_UNAVAILABLE', `cannot reach the Ethereum node at ${quick.url}: ${(error as Error).message}`, { field: 'rpcUrl', value: quick.url }, { cause: error })
  }
  const head = Number(BigInt(await client.call<string>('eth_blockNumber')))
  const probe = async (method: string, params: unknown[]): Promise<boolean> => {
    try {
      await client.call(method, params)
      return true
    } catch (error) {
      if (isMethodNotFound(error) || (error instanceof BaseError && error.code === 'RPC_ERROR')) return false
      throw error
    }
  }
  const tag = `0x${head.toString(16)}`
  const [blockReceipts, traceBlock, traceFilter, debugCallTracer, otterscan] = [
    await probe('eth_getBlockReceipts', [tag]),
    await probe('trace_block', [tag]),
    await probe('trace_filter', [{ fromBlock: tag, toBlock: tag, count: 1 }]),
    await probe('debug_traceBlockByNumber', [tag, { tracer: 'callTracer' }]),
    await probe('ots_getApiLevel', []),
  ]
  let finalized: number | null = null
  try {
    const block = await client.call<{ number?: string } | null>('eth_getBlockByNumber', ['finalized', false])
    if (block && typeof block.number === 'string') finalized = Number(BigInt(block.number))
  } catch (error) {
    if (!(error instanceof BaseError && error.code === 'RPC_ERROR')) throw error
  }
  return { chainId: Number(BigInt(chainIdHex)), head, blockReceipts, traceBlock, traceFilter, debugCallTracer, otterscan, finalized }
}

/** One line for people: `trace_block ✓ …`. */
export function describeCapabilities(c: RpcCapabilities): string {
  const flag = (on: boolean, name: string) => `${name} ${on ? 'yes' : 'no'}`
  return [
    `chain ${c.chainId}`,
    flag(c.blockReceipts, 'eth_getBlockReceipts'),
    flag(c.traceBlock, 'trace_block'),
    flag(c.traceFilter, 'trace_filter'),
    flag(c.debugCallTracer, 'debug callTracer'),
    flag(c.otterscan, 'ots_*'),
    `finalized ${c.finalized === null ? 'no tag' : c.finalized}`,
  ].join(', ')
}
