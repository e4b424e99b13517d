/**
 * Per-address lookups on a node, for the lazy walk (no block sync needed):
 *   trace_filter {fromAddress:[a]} and {toAddress:[a]}  every call trace from / to the address,
 *       the top-level one standing for the external transaction (a top-level call with value and
 *       no error is exactly a successful external transaction with value and a recipient);
 *   trace_transaction(h) / trace_block(n)                for transactions with an internal call of
 *       the address: the ancestor rule (a call rolled back by a reverted parent) needs the tree;
 *       one trace_block per block where two or more such transactions sit (a busy contract's
 *       history costs a call per block, not per transaction);
 *   eth_getLogs {address: listed, topics: [Transfer, a]} and [Transfer, null, a]  token transfers.
 */
import { ETH, type Address, type Transfer } from '../../types.ts'
import type { AddressHistorySource } from '../lazy-history.ts'
import { toHex, type RpcClient } from './client.ts'
import { ERC20_TRANSFER_TOPIC, decodeParityTraces, transfersFromDecodedTraces, transfersFromLogs, type ParityTrace, type RpcLog } from './decode.ts'

export function createRpcAddressSource(client: RpcClient, listedTokens: readonly Address[]): AddressHistorySource {
  const listed = new Set<string>(listedTokens)
  const startCalls = client.stats.calls
  return {
    name: 'rpc-address',
    requests: () => client.stats.calls - startCalls,
    async fetch(address: Address, fromBlock: number, toBlock: number): Promise<Transfer[]> {
      const word = `0x${address.slice(2).padStart(64, '0')}`
      const range = { fromBlock: toHex(fromBlock), toBlock: toHex(toBlock) }
      const [fromTraces, toTraces, sent, received] = await client.batch<unknown>([
        { method: 'trace_filter', params: [{ ...range, fromAddress: [address] }] },
        { method: 'trace_filter', params: [{ ...range, toAddress: [address] }] },
        { method: 'eth_getLogs', params: [{ ...range, address: [...listedTokens], topics: [ERC20_TRANSFER_TOPIC, word] }] },
        { method: 'eth_getLogs', params: [{ ...range, address: [...listedTokens], topics: [ERC20_TRANSFER_TOPIC, null, word] }] },
      ])
      const traces = [...(fromTraces as ParityTrace[]), ...(toTraces as ParityTrace[])]
      const out: Transfer[] = []
      // External transactions: top-level call traces.
      for (const t of decodeParityTraces(traces.filter((t) => t.traceAddress.length === 0))) {
        if (t.type !== 'call' || t.callType !== 'call' || t.value <= 0n || t.error !== null || t.from === null || t.to === null || t.transactionHash === null || t.transactionIndex === null) continue
        if (t.from !== address && t.to !== address) continue
        out.push({ from: t.from, to: t.to, amount: t.value, asset: ETH, blockNumber: t.blockNumber, transactionIndex: t.transactionIndex, txHash: t.transactionHash, kind: 'tx', subIndex: 0 })
      }
      // Internal calls: decide with the whole transaction's tree.
      const internal = traces.filter((t) => t.traceAddress.length > 0 && t.type === 'call').map((t) => ({ hash: String(t.transactionHash), block: Number(t.blockNumber) }))
      out.push(...(await internalTransfers(client, address, internal)))
      const logs = [...(sent as RpcLog[]), ...(received as RpcLog[])]
      const logKeys = new Set<string>()
      for (const t of transfersFromLogs(logs, listed)) {
        const key = `${t.txHash}/${t.subIndex}`
        if (logKeys.has(key)) continue
        logKeys.add(key)
        const { timestamp: _t, ...rest } = t
        out.push(rest)
      }
      return out
    },
  }
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
    const mine = tree.filter((t) => t.transactionHash !== null && t.transactionHash !== undefined && hashes.has(String(t.transactionHash).toLowerCase()))
    for (const t of transfersFromDecodedTraces(decodeParityTraces(mine))) {
      if (t.from !== address && t.to !== address) continue
      const key = `${t.txHash}/${t.subIndex}`
      if (seen.has(key)) continue
      seen.add(key)
      out.push(t)
    }
  })
  return out
}
