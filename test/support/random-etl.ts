/**
 * Deterministic random ethereum-etl exports (transactions, traces, token transfers) for
 * differential tests: small temporal graphs (10–60 wallets) in which paths of up to 5 hops are
 * common and every trap of DESIGN.md's counting rules is planted:
 *
 * - an unlisted token whose Transfer rows name a seed as sender (framing / address poisoning);
 * - failed transactions (receipt_status 0) carrying value, and zero-value transactions;
 * - failed internal calls (error set, status 0) and descendants of a failed call (status 0, no error);
 * - delegatecall / staticcall traces with value;
 * - top-level traces (empty trace_address) repeating their transaction;
 * - block reward traces (no sender, no transaction);
 * - transfers out of an address before funds arrived there;
 * - several transfers in one transaction that chain (tx A→C plus internal call C→D; token A→R→B);
 * - several transfers in one transaction into one wallet from different senders, and out of one
 *   wallet to different recipients (labels that tie on hops and position);
 * - cycles; exchanges (labelled category "exchange") in the middle of paths; a high-degree hub;
 *   self transfers; tiny (dust-sized) amounts;
 * - amounts exactly at, one below and one above every dust floor of {@link DUST_FLOORS}, for ETH
 *   and for the listed token: in the background, and as the only way into fresh wallets (from a
 *   seed, and into one) that pass funds on.
 *
 * Uses its own seeded PRNG (mulberry32): the same seed always gives the same rows.
 */
import type { TokenRow, TraceRow, TxRow } from './etl-rows.ts'

export const USDT = '0xdac17f958d2ee523a2206206994597c13d831ec7'

/**
 * The dust floors (base units) the property tests configure, per asset kind: the generator puts
 * amounts at, one below and one above each of them. ETH's and the token's differ, so a walk that
 * applies one asset's floor to the other is seen too.
 */
export const DUST_FLOORS: { readonly eth: readonly bigint[]; readonly token: readonly bigint[] } = {
  eth: [1000n, 10n ** 15n],
  token: [1000n, 10n ** 6n],
}
const ALL_FLOORS = [...new Set([...DUST_FLOORS.eth, ...DUST_FLOORS.token])]

/** A walk's dust option from an ETH floor and a floor for the listed token (0n: none). */
export function dustOption(eth: bigint, token: bigint): Record<string, bigint> {
  return { ...(eth > 0n ? { ETH: eth } : {}), ...(token > 0n ? { [USDT]: token } : {}) }
}

export interface GeneratedEtl {
  transactions: TxRow[]
  traces: TraceRow[]
  tokenTransfers: TokenRow[]
  seeds: string[]
  labels: { address: string; label: string; category: string }[]
  listedToken: string
}

export interface GenerateOptions {
  /** Number of wallet addresses (10–60 is the intended range). Default: 10–60 at random. */
  addresses?: number
  /** Number of random transactions on top of the planted ones. Default: 1.5 per wallet. */
  transactions?: number
  /** Number of blocks. Default: 20–50 at random. */
  blocks?: number
  /**
   * Number of store partitions (keys.ts: an address's first byte) the addresses fall into, 1–256:
   * its first byte is drawn from that many distinct values. Default: any first byte.
   */
  partitions?: number | undefined
}

/** mulberry32: small, well-known 32-bit PRNG. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Rng {
  private readonly next: () => number
  constructor(seed: number) {
    this.next = mulberry32(seed ^ 0x5eed1234)
  }
  float(): number {
    return this.next()
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from empty list')
    return items[Math.floor(this.next() * items.length)] as T
  }
  hex(bytes: number): string {
    let s = ''
    for (let i = 0; i < bytes * 2; i++) s += Math.floor(this.next() * 16).toString(16)
    return s
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      const a = items[i] as T
      items[i] = items[j] as T
      items[j] = a
    }
    return items
  }
}

interface PendingTrace {
  from: string
  to: string
  value: bigint
  callType: 'call' | 'delegatecall' | 'staticcall'
  error: string
  status: '0' | '1'
  traceAddress: number[]
}

interface PendingToken {
  token: string
  from: string
  to: string
  value: bigint
}

interface PendingTx {
  hash: string
  block: number
  from: string
  to: string
  value: bigint
  status: '0' | '1'
  gas: string
  input: string
  /** Internal calls below the top level; a top-level trace is added when `topTrace` is set. */
  calls: PendingTrace[]
  topTrace: boolean
  tokens: PendingToken[]
  /** Sort key inside the block (random), decides transaction_index. */
  order: number
}

/** `count` distinct first bytes (hex) in a random order of their own (1–256 of them). */
function partitionBytes(seed: number, count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 256) throw new RangeError(`partitions must be 1–256: ${count}`)
  const rng = new Rng(seed ^ 0x5eed)
  const all = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
  return rng.shuffle(all).slice(0, count)
}

export function generateEtl(seed: number, options: GenerateOptions = {}): GeneratedEtl {
  const rng = new Rng(seed)
  const nWallets = Math.max(10, options.addresses ?? rng.int(10, 60))
  const nBlocks = Math.max(12, options.blocks ?? rng.int(20, 50))
  const nRandom = Math.max(0, options.transactions ?? Math.round(nWallets * 1.5))

  const used = new Set<string>([USDT])
  // Drawn from a generator of its own, so a graph without the option is the same as before.
  const firstBytes = options.partitions === undefined ? null : partitionBytes(seed, options.partitions)
  let drawn = 0
  const newAddress = (): string => {
    for (;;) {
      const hex = rng.hex(20)
      const a = '0x' + (firstBytes === null ? hex : firstBytes[drawn++ % firstBytes.length]! + hex.slice(2))
      if (!used.has(a)) {
        used.add(a)
        return a
      }
    }
  }
  const hashes = new Set<string>()
  const newHash = (): string => {
    for (;;) {
      const h = '0x' + rng.hex(32)
      if (!hashes.has(h)) {
        hashes.add(h)
        return h
      }
    }
  }

  const wallets = Array.from({ length: nWallets }, newAddress)
  const contracts = Array.from({ length: rng.int(2, 3) }, newAddress)
  const router = newAddress() // token router: A -> router -> B in one transaction
  const spamToken = newAddress() // unlisted token
  const spammer = newAddress()

  // Roles, drawn from a shuffled copy of the wallets so that they are distinct.
  const roles = rng.shuffle([...wallets])
  const take = (): string => {
    const a = roles.pop()
    if (a === undefined) throw new Error('not enough wallets for roles')
    return a
  }
  const seeds = Array.from({ length: rng.int(1, 3) }, take)
  const exchanges = Array.from({ length: rng.int(1, 2) }, take)
  const hub = take()
  const earlySender = take() // sends before it ever receives from a seed
  const plain = wallets.filter((w) => !seeds.includes(w) && !exchanges.includes(w) && w !== hub)
  const nonSeeds = wallets.filter((w) => !seeds.includes(w))

  const labels: GeneratedEtl['labels'] = exchanges.map((address, i) => ({
    address,
    label: `Exchange ${i}`,
    category: 'exchange',
  }))
  // A label that does not make a stop node.
  labels.push({ address: rng.pick(plain), label: 'Known individual', category: 'individual' })

  const txs: PendingTx[] = []
  /** A block in [lo, hi] clamped to [1, nBlocks] (bounds may be fractional). */
  const blockFor = (lo: number, hi: number): number => {
    const l = Math.min(nBlocks, Math.max(1, Math.ceil(lo)))
    const h = Math.min(nBlocks, Math.max(l, Math.floor(hi)))
    return rng.int(l, h)
  }
  const amount = (): bigint => {
    const r = rng.float()
    if (r < 0.1) return BigInt(rng.int(1, 999)) // dust-sized
    if (r < 0.25) return rng.pick(ALL_FLOORS) + BigInt(rng.int(-1, 1)) // at a floor, or one off
    return BigInt(rng.int(1, 9_999_999)) * 10n ** BigInt(rng.int(9, 12))
  }

  const addTx = (p: Partial<PendingTx> & { block: number; from: string; to: string }): PendingTx => {
    const tx: PendingTx = {
      hash: newHash(),
      value: 0n,
      status: '1',
      gas: '21000',
      input: '0x',
      calls: [],
      topTrace: false,
      tokens: [],
      order: rng.float(),
      ...p,
    }
    txs.push(tx)
    return tx
  }
  const ethTx = (block: number, from: string, to: string, status: '0' | '1' = '1'): PendingTx =>
    addTx({ block, from, to, value: amount(), status, topTrace: rng.chance(0.3) })
  const tokenTx = (block: number, from: string, to: string, token = USDT, value = amount()): PendingTx =>
    addTx({
      block,
      from,
      to: token,
      gas: '60000',
      input: '0xa9059cbb',
      tokens: [{ token, from, to, value }],
    })
  /** from -> contract (value) then contract -> to (internal call, same transaction). */
  const viaContract = (block: number, from: string, to: string): PendingTx => {
    const value = amount()
    return addTx({
      block,
      from,
      to: rng.pick(contracts),
      value,
      gas: '90000',
      input: '0xd0e30db0',
      topTrace: true,
      calls: [{ from: '', to, value, callType: 'call', error: '', status: '1', traceAddress: [0] }],
    })
  }
  /** A transfer from -> to of a random counting kind. */
  const hop = (block: number, from: string, to: string): void => {
    const r = rng.float()
    if (r < 0.55) ethTx(block, from, to)
    else if (r < 0.8) tokenTx(block, from, to)
    else if (r < 0.9) viaContract(block, from, to)
    else {
      // token through a router: from -> router -> to, one transaction, equal positions.
      const v = amount()
      addTx({
        block,
        from,
        to: router,
        gas: '120000',
        input: '0x38ed1739',
        tokens: [
          { token: USDT, from, to: router, value: v },
          { token: USDT, from: router, to, value: v },
        ],
      })
    }
  }

  // ---- planted structure ------------------------------------------------------------------

  // Downstream chains of 3..5 hops from each seed, and upstream chains into each seed.
  for (const s of seeds) {
    for (let c = 0; c < 2; c++) {
      let at = s
      let block = blockFor(1, nBlocks / 3)
      const len = rng.int(3, 5)
      for (let i = 0; i < len; i++) {
        const next = rng.pick(plain.filter((w) => w !== at))
        hop(block, at, next)
        at = next
        block = Math.min(nBlocks, block + rng.int(0, 3))
      }
    }
    for (let c = 0; c < 2; c++) {
      let at = s
      let block = blockFor((2 * nBlocks) / 3, nBlocks)
      const len = rng.int(3, 5)
      for (let i = 0; i < len; i++) {
        const prev = rng.pick(plain.filter((w) => w !== at))
        hop(block, prev, at)
        at = prev
        block = Math.max(1, block - rng.int(0, 3))
      }
    }
  }
  const s0 = seeds[0] as string

  // Equal positions chain: seed -> contract (tx value) -> wallet (internal call), plus a nested
  // call wallet -> other wallet at trace address [0, 0] (quoted "0,0" in CSV).
  {
    const mid = rng.pick(plain)
    const end = rng.pick(plain.filter((w) => w !== mid))
    const value = amount() + 1000n
    addTx({
      block: blockFor(2, nBlocks / 2),
      from: s0,
      to: rng.pick(contracts),
      value,
      gas: '90000',
      input: '0xd0e30db0',
      topTrace: true,
      calls: [
        { from: '', to: mid, value, callType: 'call', error: '', status: '1', traceAddress: [0] },
        { from: mid, to: end, value: value / 2n, callType: 'call', error: '', status: '1', traceAddress: [0, 0] },
      ],
    })
  }

  // Failed internal calls, a descendant of a failed call, delegatecall/staticcall with value.
  {
    const c = rng.pick(contracts)
    const [a, b, d, e] = [rng.pick(plain), rng.pick(plain), rng.pick(plain), rng.pick(plain)]
    addTx({
      block: blockFor(1, nBlocks),
      from: s0,
      to: c,
      value: amount() + 10n ** 15n,
      gas: '200000',
      input: '0x2e1a7d4d',
      topTrace: true,
      calls: [
        { from: c, to: a, value: amount(), callType: 'call', error: 'Reverted', status: '0', traceAddress: [0] },
        { from: a, to: b, value: amount(), callType: 'call', error: '', status: '0', traceAddress: [0, 0] },
        { from: c, to: d, value: amount(), callType: 'call', error: 'Out of gas', status: '0', traceAddress: [1] },
        { from: c, to: e, value: amount(), callType: 'delegatecall', error: '', status: '1', traceAddress: [2] },
        { from: c, to: b, value: amount(), callType: 'staticcall', error: '', status: '1', traceAddress: [3] },
        { from: c, to: d, value: 0n, callType: 'call', error: '', status: '1', traceAddress: [4] },
      ],
    })
  }

  // Failed transactions with value (one from a seed, its traces failed too) and zero-value ones.
  {
    const c = rng.pick(contracts)
    addTx({
      block: blockFor(1, nBlocks),
      from: s0,
      to: c,
      value: amount() + 1n,
      status: '0',
      gas: '90000',
      input: '0xd0e30db0',
      topTrace: true,
      calls: [{ from: c, to: rng.pick(plain), value: amount(), callType: 'call', error: '', status: '0', traceAddress: [0] }],
    })
    addTx({ block: blockFor(1, nBlocks), from: s0, to: rng.pick(plain), value: amount() + 1n, status: '0' })
    addTx({ block: blockFor(1, nBlocks), from: s0, to: rng.pick(plain), value: 0n })
    addTx({ block: blockFor(1, nBlocks), from: rng.pick(plain), to: s0, value: 0n })
  }

  // Unlisted token naming a seed as sender (framing), and as recipient (poisoning the upstream).
  for (let i = 0; i < rng.int(2, 4); i++) {
    const framed = rng.pick(seeds)
    const victim = rng.pick(nonSeeds)
    const inbound = rng.chance(0.3)
    addTx({
      block: blockFor(1, nBlocks),
      from: spammer,
      to: spamToken,
      gas: '60000',
      input: '0xa9059cbb',
      tokens: [{ token: spamToken, from: inbound ? victim : framed, to: inbound ? framed : victim, value: amount() }],
    })
  }

  // An address that sends before it receives from a seed.
  {
    const b1 = blockFor(1, nBlocks / 3)
    const b2 = Math.min(nBlocks, b1 + rng.int(1, 5))
    ethTx(b1, earlySender, rng.pick(plain.filter((w) => w !== earlySender)))
    ethTx(b2, s0, earlySender)
  }

  // A cycle a -> b -> c -> a (increasing blocks), entered from a seed.
  {
    const [a, b, c] = rng.shuffle([...plain]).slice(0, 3) as [string, string, string]
    let block = blockFor(1, nBlocks / 2)
    hop(block, rng.pick(seeds), a)
    for (const [x, y] of [[a, b], [b, c], [c, a]] as const) {
      block = Math.min(nBlocks, block + rng.int(0, 2))
      ethTx(block, x, y)
    }
  }

  // Exchanges in the middle of paths, both directions.
  for (const ex of exchanges) {
    const b = blockFor(1, nBlocks - 3)
    hop(b, rng.pick(seeds), ex)
    hop(b + rng.int(0, 3), ex, rng.pick(plain))
    const b2 = blockFor(1, nBlocks - 3)
    hop(b2, rng.pick(plain), ex)
    hop(b2 + rng.int(0, 3), ex, rng.pick(seeds))
  }

  // A hub with many distinct counterparties, on a path from a seed.
  {
    const b = blockFor(1, nBlocks / 2)
    hop(b, rng.pick(seeds), hub)
    const partners = wallets.filter((w) => w !== hub && (rng.chance(0.8) || seeds.includes(w)))
    for (const w of partners) {
      if (rng.chance(0.5)) hop(blockFor(b, nBlocks), hub, w)
      else hop(blockFor(1, nBlocks), w, hub)
    }
  }

  // Dust floors: per asset kind, one of its floors F; fresh wallets reached only over one
  // transfer of F - 1, F or F + 1 from a seed (then passing funds on), and fresh wallets whose
  // only way to a seed is one such transfer (after receiving funds).
  for (const [kind, floors] of [['eth', DUST_FLOORS.eth], ['token', DUST_FLOORS.token]] as const) {
    const floor = rng.pick(floors)
    for (const offset of [-1n, 0n, 1n]) {
      const send = (block: number, from: string, to: string): void => {
        if (kind === 'eth') addTx({ block, from, to, value: floor + offset })
        else tokenTx(block, from, to, USDT, floor + offset)
      }
      const down = newAddress()
      const b1 = blockFor(1, nBlocks / 2)
      send(b1, rng.pick(seeds), down)
      hop(Math.min(nBlocks, b1 + rng.int(0, 3)), down, rng.pick(plain))
      const up = newAddress()
      const b2 = blockFor(nBlocks / 2, nBlocks)
      send(b2, up, rng.pick(seeds))
      hop(Math.max(1, b2 - rng.int(0, 3)), rng.pick(plain), up)
    }
  }

  // Equal positions from different neighbours: one aggregator transaction moves the listed token
  // from several wallets into one, another from one wallet out to several. Labels that tie on
  // (hops, cost) then differ only in their witness key: the smaller must win, whatever order the
  // walk met them in.
  for (let i = 0; i < 2; i++) {
    const centre = rng.pick(plain)
    const others = rng.shuffle(plain.filter((w) => w !== centre)).slice(0, rng.int(2, 4))
    const into = i === 0
    addTx({
      block: blockFor(nBlocks / 4, (3 * nBlocks) / 4),
      from: rng.pick(wallets),
      to: router,
      gas: '250000',
      input: '0x8f0203b0',
      tokens: others.map((o) => ({ token: USDT, from: into ? o : centre, to: into ? centre : o, value: BigInt(rng.int(1, 9_999)) * 10n ** 9n })),
    })
  }

  // Self transfers (a seed's and a wallet's).
  ethTx(blockFor(1, nBlocks), s0, s0)
  const selfie = rng.pick(plain)
  ethTx(blockFor(1, nBlocks), selfie, selfie)
  tokenTx(blockFor(1, nBlocks), selfie, selfie)

  // ---- random background ------------------------------------------------------------------
  for (let i = 0; i < nRandom; i++) {
    const from = rng.pick(wallets)
    const to = rng.pick(wallets)
    const block = blockFor(1, nBlocks)
    const r = rng.float()
    if (r < 0.45) ethTx(block, from, to)
    else if (r < 0.62) tokenTx(block, from, to)
    else if (r < 0.75) viaContract(block, from, to)
    else if (r < 0.8) ethTx(block, from, to, '0')
    else if (r < 0.85) addTx({ block, from, to, value: 0n })
    else if (r < 0.9) tokenTx(block, from, to, spamToken)
    else if (r < 0.93) hop(block, from, from)
    else hop(block, from, to)
  }

  // ---- rows --------------------------------------------------------------------------------
  txs.sort((x, y) => x.block - y.block || x.order - y.order)
  const blockHash = new Map<number, string>()
  for (let b = 1; b <= nBlocks; b++) blockHash.set(b, '0x' + rng.hex(32))
  const nonce = new Map<string, number>()
  const logIndex = new Map<number, number>()
  const indexInBlock = new Map<number, number>()

  const transactions: TxRow[] = []
  const traces: TraceRow[] = []
  const tokenTransfers: TokenRow[] = []

  // Block rewards (no sender, no transaction): a few blocks, sometimes to a seed.
  const rewardBlocks = new Set<number>()
  for (let i = 0; i < rng.int(2, 4); i++) rewardBlocks.add(blockFor(1, nBlocks))
  const rewardRows = (b: number): TraceRow[] =>
    rewardBlocks.has(b)
      ? [
          {
            block_number: String(b),
            transaction_hash: '',
            transaction_index: '',
            from_address: '',
            to_address: rng.chance(0.5) ? s0 : rng.pick(wallets),
            value: '2000000000000000000',
            trace_type: 'reward',
            call_type: '',
            error: '',
            subtraces: '0',
            trace_address: '',
            status: '1',
          },
        ]
      : []
  let lastBlock = 0
  const flushRewards = (upTo: number): void => {
    for (let b = lastBlock + 1; b <= upTo; b++) traces.push(...rewardRows(b))
    lastBlock = Math.max(lastBlock, upTo)
  }

  for (const tx of txs) {
    flushRewards(tx.block - 1)
    const idx = indexInBlock.get(tx.block) ?? 0
    indexInBlock.set(tx.block, idx + 1)
    const n = nonce.get(tx.from) ?? 0
    nonce.set(tx.from, n + 1)
    transactions.push({
      hash: tx.hash,
      nonce: String(n),
      block_hash: blockHash.get(tx.block) ?? '',
      block_number: String(tx.block),
      transaction_index: String(idx),
      from_address: tx.from,
      to_address: tx.to,
      value: tx.value.toString(),
      gas: tx.gas,
      gas_price: '1000000000',
      input: tx.input,
      block_timestamp: String(1_600_000_000 + tx.block * 12),
      receipt_status: tx.status,
    })
    const traceRow = (t: PendingTrace, subtraces: number): TraceRow => ({
      block_number: String(tx.block),
      transaction_hash: tx.hash,
      transaction_index: String(idx),
      from_address: t.from,
      to_address: t.to,
      value: t.value.toString(),
      trace_type: 'call',
      call_type: t.callType,
      error: t.error,
      subtraces: String(subtraces),
      trace_address: t.traceAddress.join(','),
      status: tx.status === '0' ? '0' : t.status,
    })
    const children = (addr: number[]): number =>
      tx.calls.filter(
        (c) => c.traceAddress.length === addr.length + 1 && addr.every((v, i) => c.traceAddress[i] === v),
      ).length
    if (tx.topTrace || tx.calls.length > 0) {
      traces.push(
        traceRow(
          {
            from: tx.from,
            to: tx.to,
            value: tx.value,
            callType: 'call',
            error: tx.status === '0' ? 'Reverted' : '',
            status: tx.status,
            traceAddress: [],
          },
          children([]),
        ),
      )
    }
    for (const c of tx.calls) {
      // An internal call with an empty sender is made by the transaction's recipient.
      traces.push(traceRow({ ...c, from: c.from === '' ? tx.to : c.from }, children(c.traceAddress)))
    }
    for (const t of tx.tokens) {
      const li = logIndex.get(tx.block) ?? 0
      logIndex.set(tx.block, li + 1)
      tokenTransfers.push({
        token_address: t.token,
        from_address: t.from,
        to_address: t.to,
        value: t.value.toString(),
        transaction_hash: tx.hash,
        log_index: String(li),
        block_number: String(tx.block),
      })
    }
  }
  flushRewards(nBlocks)

  return { transactions, traces, tokenTransfers, seeds, labels, listedToken: USDT }
}
