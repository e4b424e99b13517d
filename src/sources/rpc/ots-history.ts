/**
 * Per-address lookups through Otterscan's search API (Erigon with ots, anvil):
 *   ots_searchTransactionsBefore(a, n, pageSize)   every transaction touching the address (as
 *       sender, recipient, or in any call of it), newest first, with its receipt: the external
 *       transfers come out of these directly;
 *   trace_block / trace_transaction                 for the found transactions in which code ran
 *       (a plain transfer, empty input and 21,000 gas, has no internal calls), to read the
 *       address's internal calls on the whole tree (src/sources/rpc/address-history.ts);
 *   eth_getLogs {address: listed, topics: [Transfer, a]} and [Transfer, null, a]: token
 *       transfers (a log naming the address is not a call of it, so the search does not see it),
 *       in spans the node accepts (address-history.ts).
 * Records outside [fromBlock, toBlock] are dropped; a malformed page is a fault of the node
 * (RPC_ERROR naming node, method, address and blocks).
 */
import { BaseError } from '../../errors.ts'
import { ETH, type Address, type Transfer } from '../../types.ts'
import { withinBlocks, type AddressHistorySource } from '../lazy-history.ts'
import { internalTransfers, logTransfers, namingFaults, tokenLogs } from './address-history.ts'
import type { RpcClient } from './client.ts'
import { RpcDecodeError } from './decode.ts'

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
      return namingFaults(client, address, fromBlock, toBlock, async () => {
        const [found, logs] = await Promise.all([searchBefore(client, address, fromBlock, toBlock, pageSize), tokenLogs(client, address, listedTokens, fromBlock, toBlock)])
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
        out.push(...logTransfers(logs, listed))
        return withinBlocks(out, fromBlock, toBlock)
      })
    },
  }
}

const HEX = /^0x[0-9a-fA-F]+$/

/** The transactions of `address` in [fromBlock, toBlock], by hash, paging ots_searchTransactionsBefore backwards. */
async function searchBefore(client: RpcClient, address: Address, fromBlock: number, toBlock: number, pageSize: number): Promise<Map<string, { tx: OtsTx; receipt: OtsReceipt }>> {
  const found = new Map<string, { tx: OtsTx; receipt: OtsReceipt }>()
  let before = toBlock + 1
  for (;;) {
    const page = checkPage(await client.call<unknown>('ots_searchTransactionsBefore', [address, before, pageSize]), before)
    let lowest = Number.POSITIVE_INFINITY
    page.txs.forEach((tx, i) => {
      const block = Number(BigInt(tx.blockNumber))
      lowest = Math.min(lowest, block)
      if (block >= fromBlock && block <= toBlock) found.set(tx.hash.toLowerCase(), { tx, receipt: page.receipts[i]! })
    })
    if (page.lastPage || page.txs.length === 0 || lowest <= fromBlock) return found
    if (lowest >= before) throw new RpcDecodeError(`ots_searchTransactionsBefore(${before}) answered transactions of block ${lowest}: the search does not page backwards`, { field: 'ots_searchTransactionsBefore', value: String(lowest) })
    // A page may end inside a block: read that block again from its start with the next page.
    if (lowest + 1 >= before) throw new BaseError('RPC_ERROR', `more than ${pageSize} transactions of ${address} in block ${lowest}: cannot page ots_searchTransactionsBefore`, { field: 'ots_searchTransactionsBefore', value: address })
    before = lowest + 1
  }
}

/** An ots_searchTransactionsBefore page with the fields used here, else RpcDecodeError naming the field. */
function checkPage(raw: unknown, before: number): OtsPage {
  const fail = (field: string, value: unknown): never => {
    throw new RpcDecodeError('malformed ots_searchTransactionsBefore page', { field: `ots_searchTransactionsBefore.${field}`, value: JSON.stringify(value)?.slice(0, 120) ?? String(value), block: before })
  }
  if (raw === null || typeof raw !== 'object') fail('result', raw)
  const page = raw as Partial<OtsPage>
  if (!Array.isArray(page.txs)) fail('txs', page.txs)
  if (!Array.isArray(page.receipts) || page.receipts.length !== page.txs!.length) fail('receipts', page.receipts)
  page.txs!.forEach((tx, i) => {
    if (tx === null || typeof tx !== 'object') fail(`txs[${i}]`, tx)
    for (const key of ['hash', 'blockNumber', 'transactionIndex', 'from', 'value'] as const) if (typeof tx[key] !== 'string' || (key !== 'hash' && key !== 'from' && !HEX.test(tx[key]))) fail(`txs[${i}].${key}`, tx[key])
    if (tx.to !== null && typeof tx.to !== 'string') fail(`txs[${i}].to`, tx.to)
    if (typeof tx.input !== 'string') fail(`txs[${i}].input`, tx.input)
    const receipt = page.receipts![i]
    if (receipt === null || typeof receipt !== 'object' || typeof receipt.status !== 'string' || !HEX.test(receipt.status) || typeof receipt.gasUsed !== 'string' || !HEX.test(receipt.gasUsed)) fail(`receipts[${i}]`, receipt)
  })
  return page as OtsPage
}
