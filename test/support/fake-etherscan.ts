/**
 * A local HTTP server speaking the Etherscan account API's documented shapes, with data built from
 * a real chain (the ethereum-etl export of an anvil chain):
 *
 *   ?module=account&action=txlist|txlistinternal|tokentx&address=&startblock=&endblock=&page=&offset=&sort=asc&chainid=&apikey=
 *     → {"status":"1","message":"OK","result":[…]}   records ascending by block, `offset` per page
 *     → {"status":"0","message":"No transactions found","result":[]}
 *     → {"status":"0","message":"NOTOK","result":"Max rate limit reached"}   over `rate` calls/s per key
 *     → {"status":"0","message":"NOTOK","result":"Error! Something went wrong"}  on `notokRate` of calls
 *     → {"status":"0","message":"NOTOK","result":"Missing/Invalid API Key"}
 *   ?module=proxy&action=eth_getTransactionByHash&txhash=  → {"jsonrpc":"2.0","id":1,"result":{…}}
 *   ?module=proxy&action=eth_blockNumber                   → {"jsonrpc":"2.0","id":1,"result":"0x…"}
 *
 * Hostile modes (`misbehave`): 'same-page' answers one full page of made-up txlist records
 * (blocks 1…offset) whatever is asked; 'rate-limit' answers "Max rate limit reached" to every
 * call; 'html' answers an HTML page (echoing the request URL, API key included, as some error
 * pages do). `ignoreEndBlock` answers records past `endblock`; `extra` adds records to a list.
 *
 * Record fields follow Etherscan's documentation (all strings): txlist blockNumber, timeStamp,
 * hash, nonce, blockHash, transactionIndex, from, to, value, gas, gasPrice, isError,
 * txreceipt_status, input, contractAddress; txlistinternal blockNumber, timeStamp, hash, from, to,
 * value, contractAddress, input, type, gas, gasUsed, traceId, isError, errCode; tokentx blockNumber,
 * timeStamp, hash, nonce, blockHash, from, contractAddress, to, value, tokenName, tokenSymbol,
 * tokenDecimal, transactionIndex, logIndex (Etherscan v2 / Blockscout).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { EtlRows } from './etl-rows.ts'
import { prng } from './chain.ts'

export interface FakeEtherscan {
  url: string
  /** Calls answered, by outcome. */
  counts: { ok: number; empty: number; rateLimited: number; notok: number; proxy: number }
  /** Highest calls seen in any one-second window (per key). */
  peakPerSecond: number
  stop(): Promise<void>
}

type Rec = Record<string, string>

export interface FakeEtherscanOptions {
  apiKey: string
  rate: number
  notokRate?: number
  seed?: number
  head: number
  misbehave?: 'same-page' | 'rate-limit' | 'html'
  /** Answer records past `endblock` too (a server that ignores it). */
  ignoreEndBlock?: boolean
  /** Records added to the lists, by action. */
  extra?: Partial<Record<'txlist' | 'txlistinternal' | 'tokentx', Rec[]>>
}

export async function startFakeEtherscan(rows: EtlRows, options: FakeEtherscanOptions): Promise<FakeEtherscan> {
  const random = prng(options.seed ?? 1)
  const txByHash = new Map(rows.transactions.map((t) => [t.hash, t]))
  const txlist: Rec[] = rows.transactions.map((t) => ({
    blockNumber: t.block_number,
    timeStamp: t.block_timestamp,
    hash: t.hash,
    nonce: t.nonce,
    blockHash: t.block_hash,
    transactionIndex: t.transaction_index,
    from: t.from_address,
    to: t.to_address,
    value: t.value,
    gas: t.gas,
    gasPrice: t.gas_price,
    isError: t.receipt_status === '1' ? '0' : '1',
    txreceipt_status: t.receipt_status,
    input: t.input,
    contractAddress: '',
  }))
  // Etherscan lists internal transactions that moved value (call frames below the top level).
  const internal: Rec[] = rows.traces
    .filter((t) => t.trace_type === 'call' && t.call_type === 'call' && t.trace_address !== '' && t.value !== '' && t.value !== '0')
    .map((t) => ({
      blockNumber: t.block_number,
      timeStamp: txByHash.get(t.transaction_hash)?.block_timestamp ?? '0',
      hash: t.transaction_hash,
      from: t.from_address,
      to: t.to_address,
      value: t.value,
      contractAddress: '',
      input: '',
      type: 'call',
      gas: '0',
      gasUsed: '0',
      traceId: t.trace_address.split(',').join('_'),
      isError: t.status === '1' && t.error === '' ? '0' : '1',
      errCode: t.error,
    }))
  const tokentx: Rec[] = rows.tokenTransfers.map((t) => ({
    blockNumber: t.block_number,
    timeStamp: txByHash.get(t.transaction_hash)?.block_timestamp ?? '0',
    hash: t.transaction_hash,
    nonce: txByHash.get(t.transaction_hash)?.nonce ?? '0',
    blockHash: txByHash.get(t.transaction_hash)?.block_hash ?? '',
    from: t.from_address,
    contractAddress: t.token_address,
    to: t.to_address,
    value: t.value,
    tokenName: 'Token',
    tokenSymbol: 'TKN',
    tokenDecimal: '18',
    transactionIndex: txByHash.get(t.transaction_hash)?.transaction_index ?? '0',
    logIndex: t.log_index,
  }))
  const byBlock = (a: Rec, b: Rec) => Number(a['blockNumber']) - Number(b['blockNumber']) || Number(a['transactionIndex'] ?? 0) - Number(b['transactionIndex'] ?? 0)
  const lists: Record<string, Rec[]> = {
    txlist: [...txlist, ...(options.extra?.txlist ?? [])].sort(byBlock),
    txlistinternal: [...internal, ...(options.extra?.txlistinternal ?? [])].sort(byBlock),
    tokentx: [...tokentx, ...(options.extra?.tokentx ?? [])].sort(byBlock),
  }

  const counts = { ok: 0, empty: 0, rateLimited: 0, notok: 0, proxy: 0 }
  const windowCalls: number[] = []
  const state = { peak: 0 }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const q = (name: string) => url.searchParams.get(name) ?? ''
    const send = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (options.misbehave === 'html') {
      counts.notok++
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!DOCTYPE html><html><head><title>Service Temporarily Unavailable</title></head><body>${req.url}</body></html>`)
      return
    }
    if (options.misbehave === 'rate-limit') {
      counts.rateLimited++
      return send({ status: '0', message: 'NOTOK', result: 'Max rate limit reached' })
    }
    if (options.misbehave === 'same-page' && q('module') === 'account') {
      counts.ok++
      const offset = Number(q('offset') || 10_000)
      const address = q('address').toLowerCase()
      return send({ status: '1', message: 'OK', result: Array.from({ length: offset }, (_, i) => madeUpTx(address, i + 1)) })
    }
    if (q('apikey') !== options.apiKey) return send({ status: '0', message: 'NOTOK', result: 'Missing/Invalid API Key' })
    if (q('chainid') === '') return send({ status: '0', message: 'NOTOK', result: 'Missing chainid parameter (required for v2 api)' })
    const now = Date.now()
    windowCalls.push(now)
    while (windowCalls.length > 0 && windowCalls[0]! <= now - 1000) windowCalls.shift()
    state.peak = Math.max(state.peak, windowCalls.length)
    if (windowCalls.length > options.rate) {
      counts.rateLimited++
      return send({ status: '0', message: 'NOTOK', result: 'Max rate limit reached' })
    }
    if (random() < (options.notokRate ?? 0)) {
      counts.notok++
      return send({ status: '0', message: 'NOTOK', result: 'Error! Something went wrong' })
    }
    if (q('module') === 'proxy') {
      counts.proxy++
      if (q('action') === 'eth_blockNumber') return send({ jsonrpc: '2.0', id: 1, result: `0x${options.head.toString(16)}` })
      const tx = txByHash.get(q('txhash').toLowerCase())
      return send({ jsonrpc: '2.0', id: 1, result: tx ? { hash: tx.hash, blockNumber: `0x${Number(tx.block_number).toString(16)}`, transactionIndex: `0x${Number(tx.transaction_index).toString(16)}` } : null })
    }
    const list = lists[q('action')]
    if (q('module') !== 'account' || list === undefined) return send({ status: '0', message: 'NOTOK', result: 'Error! Invalid action' })
    const address = q('address').toLowerCase()
    const start = Number(q('startblock') || 0)
    const end = Number(q('endblock') || 99_999_999)
    const offset = Number(q('offset') || 10_000)
    const page = Number(q('page') || 1)
    const matching = list.filter((r) => (r['from'] === address || r['to'] === address) && Number(r['blockNumber']) >= start && (options.ignoreEndBlock || Number(r['blockNumber']) <= end))
    const slice = matching.slice((page - 1) * offset, page * offset)
    if (slice.length === 0) {
      counts.empty++
      return send({ status: '0', message: 'No transactions found', result: [] })
    }
    counts.ok++
    return send({ status: '1', message: 'OK', result: slice })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/api`,
    counts,
    get peakPerSecond() {
      return state.peak
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A txlist record of a successful 1-wei transfer to `address` in `block` (for hostile modes and extras). */
export function madeUpTx(address: string, block: number, from = '0x00000000000000000000000000000000000f0001'): Rec {
  const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, '0')}`
  return {
    blockNumber: String(block),
    timeStamp: String(1_700_000_000 + block * 12),
    hash: hex(block * 1_000 + 1, 64),
    nonce: String(block),
    blockHash: hex(block, 64),
    transactionIndex: '0',
    from,
    to: address,
    value: '1',
    gas: '21000',
    gasPrice: '1000000000',
    isError: '0',
    txreceipt_status: '1',
    input: '0x',
    contractAddress: '',
  }
}
