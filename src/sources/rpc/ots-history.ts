/**
 * Per-address lookups through Otterscan's search API (Erigon with ots, anvil):
 *   ots_searchTransactionsBefore(a, n, pageSize)   every transaction touching the address (as
 *       sender, recipient, or in any call of it), newest first, with its receipt: the external
 *       transfers come out of these directly;
 *   trace_block / trace_transaction                 for the found transactions in which code ran
 *       (a plain transfer, empty input and 21,000 gas, has no internal calls), to read the
 *       address's internal calls on the whole tree (src/sources/rpc/address-history.ts);
 *   eth_getLogs {address: listed, topics: [Transfer, a]} and [Transfer, null, a]: token
 *       transfers (a log naming the address is not a call of it, so the search does not see it).
 */
import { BaseError } from '../../errors.ts'
import { ETH, type Address, type Transfer } from '../../types.ts'
import type { AddressHistorySource } from '../lazy-history.ts'
import { internalTransfers } from './address-history.ts'
import { toHex, type RpcClient } from './client.ts'
import { ERC20_TRANSFER_TOPIC, transfersFromLogs, type RpcLog } from './decode.ts'

interface OtsTx {
  hash: string
  blockNumber: string
  transactionIndex: string
  from: string
  to: string | null
  value: string
  input: string
}

interface OtsReceipt {
  status: string
  gasUsed: string
  logs: readonly unknown[]
}

interface OtsPage {
  txs: OtsTx[]
  receipts: OtsReceipt[]
  firstPage: boolean
  lastPage: boolean
}

const PLAIN_GAS = 21_000n

export function createOtsAddressSource(client: RpcClient, listedTokens: readonly Address[], options: { pageSize?: number } = {}): AddressHistorySource {
  const listed = new Set<string>(listedTokens)
  const pageSize = options.pageSize ?? 500
  const startCalls = client.stats.calls
  return {
    name: 'rpc-address',
    requests: () => client.stats.calls - startCalls,
    async fetch(address: Address, fromBlock: number, toBlock: number): Promise<Transfer[]> {
      const word = `0x${address.slice(2).padStart(64, '0')}`
      const range = { fromBlock: toHex(fromBlock), toBlock: toHex(toBlock) }
      // Token logs in one batch with the first search page.
      const [first, sent, received] = await client.batch<unknown>([
        { method: 'ots_searchTransactionsBefore', params: [address, toBlock + 1, pageSize] },
        { method: 'eth_getLogs', params: [{ ...range, address: [...listedTokens], topics: [ERC20_TRANSFER_TOPIC, word] }] },
        { method: 'eth_getLogs', params: [{ ...range, address: [...listedTokens], topics: [ERC20_TRANSFER_TOPIC, null, word] }] },
      ])
      const found = new Map<string, { tx: OtsTx; receipt: OtsReceipt }>()
      let page = first as OtsPage
      let before = toBlock + 1
      for (;;) {
        let lowest = Number.POSITIVE_INFINITY
        page.txs.forEach((tx, i) => {
          const block = Number(BigInt(tx.blockNumber))
          lowest = Math.min(lowest, block)
          if (block >= fromBlock && block <= toBlock) found.set(tx.hash.toLowerCase(), { tx, receipt: page.receipts[i]! })
        })
        if (page.lastPage || page.txs.length === 0 || lowest <= fromBlock) break
        // A page may end inside a block: read that block again from its start with the next page.
        if (lowest + 1 >= before) throw new BaseError('RPC_ERROR', `more than ${pageSize} transactions of ${address} in block ${lowest}: cannot page ots_searchTransactionsBefore`, { field: 'ots_searchTransactionsBefore', value: address })
        before = lowest + 1
        page = await client.call<OtsPage>('ots_searchTransactionsBefore', [address, before, pageSize])
      }
      const out: Transfer[] = []
      const traced: { hash: string; block: number }[] = []
      for (const { tx, receipt } of found.values()) {
        const from = tx.from.toLowerCase() as Address
        const to = tx.to === null ? null : (tx.to.toLowerCase() as Address)
        const block = Number(BigInt(tx.blockNumber))
        const value = BigInt(tx.value)
        if (BigInt(receipt.status) === 1n && value > 0n && to !== null && (from === address || to === address)) {
          out.push({ from, to, amount: value, asset: ETH, blockNumber: block, transactionIndex: Number(BigInt(tx.transactionIndex)), txHash: tx.hash.toLowerCase() as `0x${string}`, kind: 'tx', subIndex: 0 })
        }
        const plain = (tx.input === '0x' || tx.input === '') && BigInt(receipt.gasUsed) === PLAIN_GAS
        if (!plain) traced.push({ hash: tx.hash, block })
      }
      out.push(...(await internalTransfers(client, address, traced)))
      const keys = new Set<string>()
      for (const t of transfersFromLogs([...(sent as RpcLog[]), ...(received as RpcLog[])], listed)) {
        const key = `${t.txHash}/${t.subIndex}`
        if (keys.has(key)) continue
        keys.add(key)
        const { timestamp: _t, ...rest } = t
        out.push(rest)
      }
      return out
    },
  }
}
