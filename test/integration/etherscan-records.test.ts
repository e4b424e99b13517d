/**
 * Etherscan account records → transfers, on answers in the documented shapes
 * (fixtures/etherscan/): isError / txreceipt_status respected, value and recipient required,
 * internal calls only of type call without error, tokens only when listed, mints dropped.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { transfersFromInternal, transfersFromTokentx, transfersFromTxlist } from '../../src/sources/etherscan/transfers.ts'
import { traceSubIndex } from '../../src/sources/trace-index.ts'
import { DEFAULT_LISTED_TOKENS } from '../../src/sources/assets.ts'
import type { AccountRecord } from '../../src/sources/etherscan/client.ts'

const load = (name: string) => (JSON.parse(readFileSync(new URL(`../../fixtures/etherscan/${name}`, import.meta.url), 'utf8')) as { result: AccountRecord[] }).result
const TX = '0x1111111111111111111111111111111111111111111111111111111111111111'

describe('Etherscan records', () => {
  it('txlist: only the successful transaction with value and a recipient counts', () => {
    expect(transfersFromTxlist(load('txlist.json'))).toEqual([
      { from: '0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', to: '0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', amount: 1000n, asset: 'ETH', blockNumber: 100, transactionIndex: 3, txHash: TX, kind: 'tx', subIndex: 0, timestamp: 1700000000 },
    ])
  })

  it('txlistinternal: an errored call and a create do not count; the trace id gives the sub-index', async () => {
    const asked: string[] = []
    const transfers = await transfersFromInternal(load('txlistinternal.json'), async (hash) => {
      asked.push(hash)
      return 3
    })
    expect(transfers).toEqual([
      { from: '0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', to: '0xdddddddddddddddddddddddddddddddddddddddd', amount: 600n, asset: 'ETH', blockNumber: 100, transactionIndex: 3, txHash: TX, kind: 'trace', subIndex: traceSubIndex([0, 1]) },
    ])
    expect(asked).toEqual([TX])
  })

  it('tokentx: a listed token counts with its log index; an unlisted one and a mint do not', () => {
    expect(transfersFromTokentx(load('tokentx.json'), new Set(DEFAULT_LISTED_TOKENS))).toEqual([
      { from: '0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', to: '0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', amount: 250n, asset: '0xdac17f958d2ee523a2206206994597c13d831ec7', blockNumber: 100, transactionIndex: 3, txHash: TX, kind: 'log', subIndex: 7 },
    ])
  })

  it('a malformed field is an error naming it', () => {
    const [good] = load('txlist.json')
    expect(() => transfersFromTxlist([{ ...good!, value: '-1' }])).toThrowError(/txlist record has an invalid value/)
  })
})
