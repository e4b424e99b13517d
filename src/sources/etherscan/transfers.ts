/**
 * Etherscan account records → transfers that count (DESIGN rule 1):
 *   txlist          receipt status 1 (`txreceipt_status` "1", `isError` "0"), value > 0, a recipient;
 *                   an empty `txreceipt_status` (before Byzantium) does not count, as in the etl source
 *   txlistinternal  type `call`, `isError` "0", value > 0, a trace address below the top level
 *                   (`traceId` "0_1" → trace address [0, 1]); Etherscan lists value-carrying calls only
 *   tokentx         a listed token, value > 0, a sender other than the zero address; `logIndex`
 *                   when the API sends it (Blockscout, Etherscan v2), for the same record as the
 *                   other sources
 * Internal records carry no transaction index: `txIndexOf` supplies it (from the address's own
 * txlist when the hash is there, else one `eth_getTransactionByHash` through the API's proxy).
 */
import { BaseError } from '../../errors.ts'
import { ETH, type Address, type Transfer } from '../../types.ts'
import { ZERO_ADDRESS, traceSubIndex } from '../trace-index.ts'
import { MAX_SUB_INDEX } from '../../store/records.ts'
import type { AccountRecord } from './client.ts'

const ADDRESS = /^0x[0-9a-fA-F]{40}$/
const HASH = /^0x[0-9a-fA-F]{64}$/
const UINT = /^\d+$/

function field(r: AccountRecord, name: string, pattern: RegExp, action: string): string {
  const value = r[name]
  if (value === undefined || !pattern.test(value)) throw new BaseError('RPC_ERROR', `Etherscan ${action} record has an invalid ${name}`, { field: `${action}.${name}`, value: String(value) })
  return value
}

export function transfersFromTxlist(records: readonly AccountRecord[]): Transfer[] {
  const out: Transfer[] = []
  for (const r of records) {
    const to = r['to'] ?? ''
    const value = BigInt(field(r, 'value', UINT, 'txlist'))
    if (r['txreceipt_status'] !== '1' || r['isError'] === '1' || value === 0n || to === '') continue
    out.push({
      from: field(r, 'from', ADDRESS, 'txlist').toLowerCase() as Address,
      to: field(r, 'to', ADDRESS, 'txlist').toLowerCase() as Address,
      amount: value,
      asset: ETH,
      blockNumber: Number(field(r, 'blockNumber', UINT, 'txlist')),
      transactionIndex: Number(field(r, 'transactionIndex', UINT, 'txlist')),
      txHash: field(r, 'hash', HASH, 'txlist').toLowerCase() as `0x${string}`,
      kind: 'tx',
      subIndex: 0,
      timestamp: Number(r['timeStamp'] ?? 0),
    })
  }
  return out
}

export async function transfersFromInternal(records: readonly AccountRecord[], txIndexOf: (hash: string) => Promise<number>): Promise<Transfer[]> {
  const out: Transfer[] = []
  for (const r of records) {
    const value = BigInt(field(r, 'value', UINT, 'txlistinternal'))
    const traceId = r['traceId'] ?? ''
    if ((r['type'] ?? 'call') !== 'call' || r['isError'] !== '0' || value === 0n || traceId === '' || (r['to'] ?? '') === '') continue
    const hash = field(r, 'hash', HASH, 'txlistinternal').toLowerCase() as `0x${string}`
    out.push({
      from: field(r, 'from', ADDRESS, 'txlistinternal').toLowerCase() as Address,
      to: field(r, 'to', ADDRESS, 'txlistinternal').toLowerCase() as Address,
      amount: value,
      asset: ETH,
      blockNumber: Number(field(r, 'blockNumber', UINT, 'txlistinternal')),
      transactionIndex: await txIndexOf(hash),
      txHash: hash,
      kind: 'trace',
      subIndex: traceSubIndex(traceId.split('_').join(',')),
    })
  }
  return out
}

export function transfersFromTokentx(records: readonly AccountRecord[], listedTokens: ReadonlySet<string>): Transfer[] {
  const out: Transfer[] = []
  records.forEach((r, i) => {
    const token = field(r, 'contractAddress', ADDRESS, 'tokentx').toLowerCase()
    const value = BigInt(field(r, 'value', UINT, 'tokentx'))
    const from = field(r, 'from', ADDRESS, 'tokentx').toLowerCase()
    if (!listedTokens.has(token) || value === 0n || from === ZERO_ADDRESS || !ADDRESS.test(r['to'] ?? '')) return
    const logIndex = r['logIndex']
    out.push({
      from: from as Address,
      to: (r['to'] as string).toLowerCase() as Address,
      amount: value,
      asset: token as Address,
      blockNumber: Number(field(r, 'blockNumber', UINT, 'tokentx')),
      transactionIndex: Number(field(r, 'transactionIndex', UINT, 'tokentx')),
      txHash: field(r, 'hash', HASH, 'tokentx').toLowerCase() as `0x${string}`,
      kind: 'log',
      // Without logIndex (classic Etherscan) the record's place in the answer keeps transfers
      // distinct, counted down from the top of the 22 bits a record holds (log indices of a block
      // stay far below it); a log index that does not fit is refused like any bad field.
      subIndex: logIndex !== undefined && UINT.test(logIndex) ? logIndexOf(logIndex) : MAX_SUB_INDEX - i,
    })
  })
  return out
}

function logIndexOf(text: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value > MAX_SUB_INDEX) throw new BaseError('RPC_ERROR', `tokentx: logIndex ${text} does not fit a record (at most ${MAX_SUB_INDEX})`, { field: 'logIndex', value: text })
  return value
}
