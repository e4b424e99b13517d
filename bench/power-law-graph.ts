import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'

/**
 * A seeded power-law temporal transfer graph, written as ethereum-etl CSVs (the importer's real
 * input) and kept in memory as compact arrays (the reference walk's input). Same seed, same graph.
 *
 * Senders and recipients are drawn as floor(N · u^k): a few addresses get a large share of the
 * transfers (exchange-like hubs, which the counterparty cap turns into stop nodes), most get a few.
 * Positions increase with the transfer index (200 transfers per block), like a chain read in order.
 * 90 % are ETH transactions, 10 % USDT token transfers (each with its own zero-value transaction
 * row, as on chain, which the counting rules skip).
 */
export interface PowerLawGraph {
  dir: string
  addresses: string[]
  from: Uint32Array
  to: Uint32Array
  block: Uint32Array
  txIndex: Uint16Array
  transfers: number
}

export const USDT = '0xdac17f958d2ee523a2206206994597c13d831ec7'
const PER_BLOCK = 200

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function hex(random: () => number, digits: number): string {
  let s = ''
  while (s.length < digits) s += Math.floor(random() * 0x100000000).toString(16).padStart(8, '0')
  return s.slice(0, digits)
}

export async function generatePowerLawGraph(dir: string, options: { seed: number; transfers: number; addresses: number }): Promise<PowerLawGraph> {
  const random = prng(options.seed)
  const n = options.addresses
  const addresses = Array.from({ length: n }, () => `0x${hex(random, 40)}`)
  const from = new Uint32Array(options.transfers)
  const to = new Uint32Array(options.transfers)
  const block = new Uint32Array(options.transfers)
  const txIndex = new Uint16Array(options.transfers)
  await mkdir(dir, { recursive: true })
  const txs = createWriteStream(join(dir, 'transactions.csv'))
  const tokens = createWriteStream(join(dir, 'token_transfers.csv'))
  txs.write('hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,gas_price,input,block_timestamp,receipt_status\n')
  tokens.write('token_address,from_address,to_address,value,transaction_hash,log_index,block_number\n')
  let txChunk = ''
  let tokenChunk = ''
  for (let i = 0; i < options.transfers; i++) {
    let s = Math.floor(n * random() ** 2.5)
    let r = Math.floor(n * random() ** 2)
    if (r === s) r = (r + 1) % n
    from[i] = s
    to[i] = r
    const b = 1 + Math.floor(i / PER_BLOCK)
    const ti = i % PER_BLOCK
    block[i] = b
    txIndex[i] = ti
    const hash = `0x${hex(random, 64)}`
    const amount = 1 + Math.floor(random() * 1e15)
    const ts = 1_600_000_000 + b * 12
    if (random() < 0.9) {
      txChunk += `${hash},0,0x,${b},${ti},${addresses[s]},${addresses[r]},${amount}000,21000,1,0x,${ts},1\n`
    } else {
      txChunk += `${hash},0,0x,${b},${ti},${addresses[s]},${USDT},0,60000,1,0xa9059cbb,${ts},1\n`
      tokenChunk += `${USDT},${addresses[s]},${addresses[r]},${amount},${hash},0,${b}\n`
    }
    if (txChunk.length > 1 << 20) {
      if (!txs.write(txChunk)) await once(txs, 'drain')
      txChunk = ''
    }
    if (tokenChunk.length > 1 << 20) {
      if (!tokens.write(tokenChunk)) await once(tokens, 'drain')
      tokenChunk = ''
    }
  }
  txs.end(txChunk)
  tokens.end(tokenChunk)
  await Promise.all([once(txs, 'finish'), once(tokens, 'finish')])
  return { dir, addresses, from, to, block, txIndex, transfers: options.transfers }
}
