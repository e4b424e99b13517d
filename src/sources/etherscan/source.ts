import { BaseError } from '../../errors.ts'
import type { Address, Transfer } from '../../types.ts'
import { withinBlocks, type AddressHistorySource } from '../lazy-history.ts'
import type { EtherscanClient } from './client.ts'
import { transfersFromInternal, transfersFromTokentx, transfersFromTxlist } from './transfers.ts'

/**
 * The Etherscan account API as a per-address history source: txlist, txlistinternal and tokentx
 * of the address (three paged queries), internal transfers' transaction indexes from the
 * address's own txlist or, for transactions it did not send or receive, the API's proxy. Only
 * transfers in [fromBlock, toBlock] are returned.
 */
export function createEtherscanSource(client: EtherscanClient, listedTokens: readonly Address[]): AddressHistorySource {
  const listed = new Set<string>(listedTokens)
  const indexCache = new Map<string, number>()
  return {
    name: 'etherscan',
    requests: () => client.stats.calls,
    async fetch(address: Address, fromBlock: number, toBlock: number): Promise<Transfer[]> {
      const [txs, internal, tokens] = await Promise.all([
        client.accountRecords('txlist', address, fromBlock, toBlock),
        client.accountRecords('txlistinternal', address, fromBlock, toBlock),
        client.accountRecords('tokentx', address, fromBlock, toBlock),
      ])
      for (const r of txs) if (r['hash'] && r['transactionIndex']) indexCache.set(r['hash'].toLowerCase(), Number(r['transactionIndex']))
      for (const r of tokens) if (r['hash'] && r['transactionIndex']) indexCache.set(r['hash'].toLowerCase(), Number(r['transactionIndex']))
      const txIndexOf = async (hash: string): Promise<number> => {
        let index = indexCache.get(hash)
        if (index === undefined) {
          index = await client.transactionIndex(hash)
          indexCache.set(hash, index)
        }
        return index
      }
      let transfers: Transfer[]
      try {
        transfers = [...transfersFromTxlist(txs), ...(await transfersFromInternal(internal, txIndexOf)), ...transfersFromTokentx(tokens, listed)]
      } catch (error) {
        if (!(error instanceof BaseError) || error.details['address'] !== undefined) throw error
        throw new BaseError(error.code, `${error.shortMessage} (looking up ${address}, blocks ${fromBlock}-${toBlock})`, { ...error.details, address }, { cause: error })
      }
      // A walk must not use transfers past its final block, whatever the API sent.
      return withinBlocks(transfers, fromBlock, toBlock)
    },
  }
}
