/**
 * Builds two fixture folders from the shared real-data folder (`../shared/data`, or `$SHARED_DATA`):
 *
 *   node --import tsx scripts/build-fixtures.ts
 *
 * - fixtures/bybit-trace/: the Bybit exploiter's traced outflows (phvaz/blockchain-fund-tracing-investigation,
 *   as transcribed in ../shared/data/transfers/bybit-2025-trace/) as ethereum-etl `transactions.csv` and
 *   `token_transfers.csv`, the seed, the time-respecting downstream hops computed here under DESIGN.md's
 *   rules (`expected_hops.csv`), and the address-poisoning recipients that must stay unreached.
 * - fixtures/demo/: that flow plus the Ronin 2022 Dune export (placeholder hashes and pseudo block numbers),
 *   seeds (OFAC Lazarus Group, FBI PSA on Bybit, the Bybit exploiter), a few service labels and the
 *   addresses of the demo's screening table.
 *
 * Tests and the demo read only the written fixtures, never ../shared. Deterministic: the same inputs give
 * byte-identical files. After writing, the script re-reads every CSV and checks it (addresses, hashes,
 * integers, the token-transfer → transaction join) and recomputes the hops from the written files.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parse } from 'csv-parse/sync'
import { getAddress } from 'ethers'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const shared = resolve(process.env.SHARED_DATA ?? join(root, '..', 'shared', 'data'))
const outTrace = join(root, 'fixtures', 'bybit-trace')
const outDemo = join(root, 'fixtures', 'demo')

// ---------------------------------------------------------------------------------------------
// Constants

const ZERO_HASH = `0x${'0'.repeat(64)}`
const MAX_HOPS = 4

/** DESIGN.md's default asset list (lowercase; the same list as src/sources/assets.ts). */
const DEFAULT_LISTED = {
  USDT: '0xdac17f958d2ee523a2206206994597c13d831ec7',
  USDC: '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48',
  DAI: '0x6b175474e89094c44da98b954eedeac495271d0f',
  WETH: '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2',
  WBTC: '0x2260fac5e5542a773aa44fbcfedf7c193bc2c599',
  stETH: '0xae7ab96520de3a18e5e111b5eaab095312d7fe84',
} as const
/**
 * Mantle's liquid-staking tokens the exploiter moved. Both are 18-decimal ERC-20s: mETH is
 * mantle-lsp/contracts src/METH.sol (OpenZeppelin ERC20PermitUpgradeable, no `decimals()` override; the
 * repo README lists METH L1 = 0xd5F7838F…0ADfa); cmETH is mantle-xyz/cMETH-boring-vault src/L1cmETH.sol
 * (ERC20Upgradeable, no override), and token registries list 0xE6829d9a…e8fA with decimals 18.
 */
const METH = '0xd5f7838f5c461feff7fe49ea5ebaf7728bb0adfa'
const CMETH = '0xe6829d9a7ee3040e1276fa75293bde931859e8fa'
const TRACE_LISTED: ReadonlySet<string> = new Set([...Object.values(DEFAULT_LISTED), METH, CMETH])
const DEMO_DEFAULT_LISTED: ReadonlySet<string> = new Set(Object.values(DEFAULT_LISTED))
/** Decimals of the genuine tokens in the trace. Fake tokens: unknown, assumed 18 (they mimic ETH/stETH). */
const GENUINE_DECIMALS: Readonly<Record<string, number>> = { [DEFAULT_LISTED.stETH]: 18, [METH]: 18, [CMETH]: 18 }
const FAKE_TOKEN_DECIMALS = 18

const BYBIT_EXPLOITER = '0x47666fab8bd0ac7003bce3f5c3585383f09486e2'
const RONIN_EXPLOITER = '0x098b716b8aaf21512996dc57eb0615e2383e2f96'

/** Label categories that src/config.ts stops at by default (DEFAULT_STOP_CATEGORIES). */
const DEMO_STOP_CATEGORIES: ReadonlySet<string> = new Set(['exchange', 'dex', 'bridge', 'mixer', 'service'])

const TX_HEADER = [
  'hash', 'nonce', 'block_hash', 'block_number', 'transaction_index', 'from_address', 'to_address', 'value', 'gas', 'gas_price',
  'input', 'block_timestamp', 'receipt_status',
] as const
const TOKEN_HEADER = ['token_address', 'from_address', 'to_address', 'value', 'transaction_hash', 'log_index', 'block_number'] as const

// ---------------------------------------------------------------------------------------------
// Small helpers

type Row = Record<string, string>

function readCsvRows(file: string, relaxColumnCount = false): Row[] {
  return parse(readFileSync(file, 'utf8'), { columns: true, skip_empty_lines: true, relax_column_count: relaxColumnCount }) as Row[]
}

function rel(file: string): string {
  return relative(shared, file)
}

function fail(message: string): never {
  throw new Error(`build-fixtures: ${message}`)
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) fail(message)
}

const ADDRESS_RE = /^0x[0-9a-f]{40}$/
const HASH_RE = /^0x[0-9a-f]{64}$/
const UINT_RE = /^(0|[1-9][0-9]*)$/

function lowerAddress(value: string, where: string): string {
  const a = value.trim().toLowerCase()
  check(ADDRESS_RE.test(a), `${where}: not an address: ${JSON.stringify(value)}`)
  return a
}

/**
 * Exact decimal → integer base units with string/BigInt arithmetic (never floats): "30375.54791768" with
 * 18 decimals → "30375547917680000000000"; scientific notation ("1e-05", "4.269e-09") is accepted because
 * Dune writes small floats that way. Throws when the text has more fractional digits than `decimals`
 * (the result would not be an integer).
 */
export function toBaseUnits(text: string, decimals: number): string {
  const m = /^(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim())
  if (m === null) fail(`not a non-negative decimal: ${JSON.stringify(text)}`)
  const intPart = m[1] ?? ''
  const fracPart = m[2] ?? ''
  const exponent = Number(m[3] ?? '0')
  const digits = BigInt(intPart + fracPart)
  const shift = exponent - fracPart.length + decimals
  if (shift >= 0) return (digits * 10n ** BigInt(shift)).toString()
  const divisor = 10n ** BigInt(-shift)
  if (digits % divisor !== 0n) fail(`${JSON.stringify(text)} has more than ${decimals} decimals: not an integer in base units`)
  return (digits / divisor).toString()
}

function unixSeconds(text: string, where: string): number {
  // "2025-02-21 14:29:47" (UTC, Etherscan) or "2022-03-29T21:41:18+00:00" (Dune)
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text) ? `${text.replace(' ', 'T')}Z` : text
  const ms = Date.parse(iso)
  check(Number.isFinite(ms) && ms % 1000 === 0, `${where}: bad timestamp ${JSON.stringify(text)}`)
  return ms / 1000
}

function csvCell(value: string | number): string {
  const s = String(value)
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
}

function writeCsv(file: string, header: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  for (const row of rows) check(row.length === header.length, `${file}: row width ${row.length} ≠ header ${header.length}`)
  const text = [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n'
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
}

function writeText(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`)
}

function short(a: string): string {
  return `${a.slice(0, 10)}…`
}

// ---------------------------------------------------------------------------------------------
// etl rows

interface TxRow {
  hash: string
  blockNumber: number
  transactionIndex: number
  from: string
  to: string
  value: string
  blockTimestamp: number
  receiptStatus: 0 | 1
}

interface TokenRow {
  token: string
  from: string
  to: string
  value: string
  txHash: string
  logIndex: number
  blockNumber: number
}

function txCsvRows(txs: readonly TxRow[]): (string | number)[][] {
  return txs.map((t) => [t.hash, 0, ZERO_HASH, t.blockNumber, t.transactionIndex, t.from, t.to, t.value, 0, 0, '0x', t.blockTimestamp, t.receiptStatus])
}

function tokenCsvRows(tokens: readonly TokenRow[]): (string | number)[][] {
  return tokens.map((t) => [t.token, t.from, t.to, t.value, t.txHash, t.logIndex, t.blockNumber])
}

function byPosition(a: TxRow, b: TxRow): number {
  return a.blockNumber - b.blockNumber || a.transactionIndex - b.transactionIndex
}

// ---------------------------------------------------------------------------------------------
// Reference exposure computation (DESIGN.md "Exposure semantics"), kept tiny and obviously correct:
// bounded-hop earliest-arrival (downstream) / latest-departure (upstream) relaxation in rounds.

/** A transfer that counts: value > 0, succeeded, listed asset. Position = (block, transaction index). */
export interface CountedTransfer {
  from: string
  to: string
  block: number
  index: number
}

/** Transfers that count under rule 1 from etl transactions and token transfers (no traces in these fixtures). */
export function countedTransfers(txs: readonly TxRow[], tokens: readonly TokenRow[], listed: ReadonlySet<string>): CountedTransfer[] {
  const byHash = new Map(txs.map((t) => [t.hash, t]))
  const out: CountedTransfer[] = []
  for (const t of txs) {
    if (t.receiptStatus === 1 && BigInt(t.value) > 0n && t.to !== '' && t.from !== '') {
      out.push({ from: t.from, to: t.to, block: t.blockNumber, index: t.transactionIndex })
    }
  }
  for (const l of tokens) {
    const tx = byHash.get(l.txHash)
    check(tx !== undefined, `token transfer without a transaction: ${l.txHash}`)
    if (!listed.has(l.token) || BigInt(l.value) === 0n || l.from === '' || tx.receiptStatus !== 1) continue
    out.push({ from: l.from, to: l.to, block: tx.blockNumber, index: tx.transactionIndex })
  }
  return out
}

/** Position as one comparable number (blocks < 2^32, indexes < 2^20 here). */
function pos(t: CountedTransfer): number {
  return t.block * 2 ** 20 + t.index
}

export interface HopOptions {
  seeds: ReadonlySet<string>
  stop?: ReadonlySet<string>
  maxHops?: number
  /** Plain BFS: ignore positions (what the derived file of the source did). */
  ignoreTime?: boolean
}

/**
 * downstream.hops: after round k, `arrival` holds the earliest position at which each address can hold
 * seed funds over a time-respecting path of ≤ k transfers (seeds: −∞). An earlier arrival dominates for
 * every extension, so one number per address and round is exact. Interior nodes must be seeds or not
 * stop nodes; equal positions chain.
 */
export function downstreamHops(transfers: readonly CountedTransfer[], o: HopOptions): Map<string, number> {
  const stop = o.stop ?? new Set<string>()
  const hops = new Map<string, number>([...o.seeds].map((s) => [s, 0]))
  let arrival = new Map<string, number>([...o.seeds].map((s) => [s, Number.NEGATIVE_INFINITY]))
  for (let k = 1; k <= (o.maxHops ?? MAX_HOPS); k++) {
    const next = new Map(arrival)
    for (const t of transfers) {
      const at = arrival.get(t.from)
      if (at === undefined || (!o.ignoreTime && pos(t) < at)) continue
      if (!o.seeds.has(t.from) && stop.has(t.from)) continue
      const p = o.ignoreTime ? 0 : pos(t)
      const known = next.get(t.to)
      if (known === undefined || p < known) next.set(t.to, p)
      if (!hops.has(t.to)) hops.set(t.to, k)
    }
    arrival = next
  }
  return hops
}

/** upstream.hops: the mirror image (latest departure from which a ≤ k-transfer time-respecting path reaches a seed). */
export function upstreamHops(transfers: readonly CountedTransfer[], o: HopOptions): Map<string, number> {
  const stop = o.stop ?? new Set<string>()
  const hops = new Map<string, number>([...o.seeds].map((s) => [s, 0]))
  let departure = new Map<string, number>([...o.seeds].map((s) => [s, Number.POSITIVE_INFINITY]))
  for (let k = 1; k <= (o.maxHops ?? MAX_HOPS); k++) {
    const next = new Map(departure)
    for (const t of transfers) {
      const by = departure.get(t.to)
      if (by === undefined || (!o.ignoreTime && pos(t) > by)) continue
      if (!o.seeds.has(t.to) && stop.has(t.to)) continue
      const p = o.ignoreTime ? 0 : pos(t)
      const known = next.get(t.from)
      if (known === undefined || p > known) next.set(t.from, p)
      if (!hops.has(t.from)) hops.set(t.from, k)
    }
    departure = next
  }
  return hops
}

// ---------------------------------------------------------------------------------------------
// 1. The Bybit trace

interface BybitEdge {
  line: number
  sourceFile: string
  from: string
  to: string
  hash: string
  timestampUtc: string
  block: number
  kind: 'native' | 'token'
  asset: string
  symbolNonAscii: boolean
  contract: string
  amount: string
  genuine: boolean
  isError: boolean
}

interface BybitBuild {
  edges: BybitEdge[]
  txs: TxRow[]
  tokens: TokenRow[]
  conflicts: string[]
  derivedHops: Map<string, number>
  derivedNotes: Map<string, string>
}

const TRACE_DIR = () => join(shared, 'transfers', 'bybit-2025-trace')

function readBybitEdges(): BybitEdge[] {
  const derivedFile = join(TRACE_DIR(), 'bybit_edges_derived.csv')
  const derived = readCsvRows(derivedFile)
  // is_error and symbol_non_ascii are only in the per-hop source files; the derived file stacks them in order.
  const sources = new Map<string, Row[]>()
  const cursor = new Map<string, number>()
  const edges: BybitEdge[] = []
  derived.forEach((r, i) => {
    const where = `${rel(derivedFile)} line ${i + 2}`
    const sourceFile = r.source_file ?? ''
    if (!sources.has(sourceFile)) sources.set(sourceFile, readCsvRows(join(TRACE_DIR(), sourceFile)))
    const n = cursor.get(sourceFile) ?? 0
    cursor.set(sourceFile, n + 1)
    const src = sources.get(sourceFile)![n]
    check(src !== undefined, `${where}: no row ${n} in ${sourceFile}`)
    for (const [a, b] of [['tx_hash', 'hash'], ['to_address', 'to'], ['amount', 'amount'], ['block', 'block'], ['timestamp_utc', 'timestamp_utc'], ['kind', 'kind'], ['token_contract', 'contract']] as const) {
      check(r[a] === src[b], `${where}: ${a}=${r[a]} but ${sourceFile} row ${n + 2} ${b}=${src[b]}`)
    }
    check(src.chain_id === '1', `${where}: chain_id ${src.chain_id}`)
    check(src.is_error === '0' || src.is_error === '1', `${where}: is_error ${src.is_error}`)
    const kind = r.kind
    check(kind === 'native' || kind === 'token', `${where}: kind ${kind}`)
    const hash = (r.tx_hash ?? '').toLowerCase()
    check(HASH_RE.test(hash), `${where}: bad hash ${r.tx_hash}`)
    check(UINT_RE.test(r.block ?? ''), `${where}: bad block ${r.block}`)
    edges.push({
      line: i + 2,
      sourceFile,
      from: lowerAddress(r.from_address ?? '', where),
      to: lowerAddress(r.to_address ?? '', where),
      hash,
      timestampUtc: r.timestamp_utc ?? '',
      block: Number(r.block),
      kind,
      asset: r.asset ?? '',
      symbolNonAscii: src.symbol_non_ascii === 'yes',
      contract: kind === 'token' ? lowerAddress(r.token_contract ?? '', where) : '',
      amount: r.amount ?? '',
      genuine: r.genuine_asset === 'yes',
      isError: src.is_error === '1',
    })
  })
  for (const [file, rows] of sources) check(cursor.get(file) === rows.length, `${file}: ${rows.length} rows, ${cursor.get(file)} in the derived file`)
  // the derived file's genuine_asset flag must agree with the contract list
  for (const e of edges) check(e.genuine === (e.kind === 'native' || e.contract in GENUINE_DECIMALS), `line ${e.line}: genuine_asset flag vs contract ${e.contract}`)
  return edges
}

function buildBybit(): BybitBuild {
  const edges = readBybitEdges()
  const conflicts: string[] = []
  // one transaction per hash, in order of first appearance
  const groups = new Map<string, BybitEdge[]>()
  for (const e of edges) groups.set(e.hash, [...(groups.get(e.hash) ?? []), e])
  const nextIndex = new Map<number, number>()
  const nextLog = new Map<number, number>()
  const txs: TxRow[] = []
  const tokens: TokenRow[] = []
  for (const [hash, group] of groups) {
    const first = group[0]!
    for (const e of group) {
      check(e.block === first.block && e.timestampUtc === first.timestampUtc, `tx ${hash}: edges disagree on block/time`)
    }
    const natives = group.filter((e) => e.kind === 'native')
    check(natives.length <= 1, `tx ${hash}: ${natives.length} native rows`)
    const native = natives[0]
    const tokenEdges = group.filter((e) => e.kind === 'token')
    const errors = new Set(group.map((e) => e.isError))
    if (errors.size > 1) conflicts.push(`${hash}: is_error differs between its rows; receipt_status 0 used`)
    const index = nextIndex.get(first.block) ?? 0
    nextIndex.set(first.block, index + 1)
    const from = native?.from ?? tokenEdges[0]!.from
    const to = native?.to ?? tokenEdges[0]!.contract
    const senders = new Set(group.map((e) => e.from))
    const contracts = new Set(tokenEdges.map((e) => e.contract))
    if (native !== undefined && tokenEdges.some((e) => e.contract !== native.to)) {
      conflicts.push(
        `${hash} (block ${first.block}): a native row (to ${short(native.to)}, ${native.amount} ETH) and token rows of ${[...contracts].map(short).join(', ')}: ` +
          'the tx called a router/pool that moved the tokens; the transactions row keeps the native row (from, to, value)',
      )
    } else if (senders.size > 1 || contracts.size > 1) {
      const parts = [
        senders.size > 1 ? `token rows naming ${senders.size} different senders (${[...senders].map(short).join(', ')}; rows of ${[...new Set(group.map((e) => e.sourceFile))].join(' and ')})` : '',
        contracts.size > 1 ? `token rows of ${contracts.size} contracts (${[...contracts].map((c) => `${short(c)}${TRACE_LISTED.has(c) ? ' genuine' : ' unlisted'}`).join(', ')})` : '',
      ].filter((x) => x !== '')
      conflicts.push(
        `${hash} (block ${first.block}): ${parts.join(' and ')}: an address-poisoning transaction (forged or zero-value Transfer events; its real sender, ` +
          `the poisoner, is not in the source); the transactions row uses the first token row: from ${short(from)}, to ${short(to)}, value 0`,
      )
    }
    txs.push({
      hash,
      blockNumber: first.block,
      transactionIndex: index,
      from,
      to,
      value: native === undefined ? '0' : toBaseUnits(native.amount, 18),
      blockTimestamp: unixSeconds(first.timestampUtc, `tx ${hash}`),
      receiptStatus: errors.has(true) ? 0 : 1,
    })
    for (const e of tokenEdges) {
      const log = nextLog.get(e.block) ?? 0
      nextLog.set(e.block, log + 1)
      tokens.push({
        token: e.contract,
        from: e.from,
        to: e.to,
        value: toBaseUnits(e.amount, GENUINE_DECIMALS[e.contract] ?? FAKE_TOKEN_DECIMALS),
        txHash: hash,
        logIndex: log,
        blockNumber: e.block,
      })
    }
  }
  txs.sort(byPosition)
  const derivedHops = new Map<string, number>()
  const derivedNotes = new Map<string, string>()
  for (const r of readCsvRows(join(TRACE_DIR(), 'expected_hops_from_bybit_seed_derived.csv'))) {
    const a = lowerAddress(r.address ?? '', 'expected_hops_from_bybit_seed_derived.csv')
    derivedHops.set(a, Number(r.min_hops_from_seed))
    if ((r.note ?? '') !== '') derivedNotes.set(a, r.note ?? '')
  }
  return { edges, txs, tokens, conflicts, derivedHops, derivedNotes }
}

/** Same rows, transaction indexes reversed within each block: the hops must not depend on the invented order. */
function reversedIndexes(txs: readonly TxRow[]): TxRow[] {
  const count = new Map<number, number>()
  for (const t of txs) count.set(t.blockNumber, (count.get(t.blockNumber) ?? 0) + 1)
  return txs.map((t) => ({ ...t, transactionIndex: count.get(t.blockNumber)! - 1 - t.transactionIndex }))
}

interface SpamAddress {
  address: string
  reason: string
}

function spamAddresses(b: BybitBuild, reached: ReadonlyMap<string, number>, seeds: ReadonlySet<string>): SpamAddress[] {
  const genuineParties = [...reached.keys()]
  const received = new Map<string, Set<string>>()
  for (const e of b.edges) {
    if (e.kind !== 'token') continue
    const counts = TRACE_LISTED.has(e.contract) && BigInt(toBaseUnits(e.amount, 18)) > 0n
    if (counts || seeds.has(e.to)) continue
    const what = TRACE_LISTED.has(e.contract)
      ? `a zero-value transfer of the genuine ${e.asset} contract ${short(e.contract)}`
      : `unlisted token ${short(e.contract)} named '${e.asset}'${e.symbolNonAscii ? ' (non-ASCII homoglyph symbol)' : ''}`
    received.set(e.to, (received.get(e.to) ?? new Set()).add(what))
  }
  const out: SpamAddress[] = []
  for (const [address, what] of received) {
    check(!reached.has(address), `spam recipient ${address} is reached: it also got a counted transfer`)
    let best: { a: string; pre: number; suf: number } | undefined
    for (const g of genuineParties) {
      let pre = 0
      while (pre < 40 && g[2 + pre] === address[2 + pre]) pre++
      let suf = 0
      while (suf < 40 && g[41 - suf] === address[41 - suf]) suf++
      if ((pre >= 4 || suf >= 4) && (best === undefined || pre + suf > best.pre + best.suf)) best = { a: g, pre, suf }
    }
    const like = best === undefined ? 'no look-alike among the traced wallets' : `look-alike of traced wallet ${best.a} (same first ${best.pre} and last ${best.suf} hex digits)`
    out.push({ address, reason: `address poisoning: ${like}; received only ${[...what].join(' and ')}` })
  }
  return out.sort((x, y) => x.address.localeCompare(y.address))
}

// ---------------------------------------------------------------------------------------------
// 2. Ronin 2022 (Dune)

interface RoninRow {
  row: number
  time: string
  unix: number
  from: string
  to: string
  totalEth: string
}

const RONIN_FILE = () => join(shared, 'transfers', 'ronin-2022-dune', 'LazarusTabularTxs1322519.csv')

function roninHash(row: number): string {
  return `0x${'0'.repeat(48)}d0e0${row.toString(16).padStart(12, '0')}`
}

function buildRonin(): { rows: RoninRow[]; txs: TxRow[] } {
  const file = RONIN_FILE()
  const rows: RoninRow[] = readCsvRows(file).map((r, i) => {
    const where = `${rel(file)} line ${i + 2}`
    const dune = (v: string | undefined) => lowerAddress((v ?? '').replace(/^\\x/, '0x'), where)
    return { row: i + 1, time: r.block_time ?? '', unix: unixSeconds(r.block_time ?? '', where), from: dune(r.from), to: dune(r.to), totalEth: r.total_eth ?? '' }
  })
  const ordered = [...rows].sort((a, b) => a.unix - b.unix || a.row - b.row)
  const nextIndex = new Map<number, number>()
  const txs = ordered.map((r): TxRow => {
    const index = nextIndex.get(r.unix) ?? 0
    nextIndex.set(r.unix, index + 1)
    return { hash: roninHash(r.row), blockNumber: r.unix, transactionIndex: index, from: r.from, to: r.to, value: toBaseUnits(r.totalEth, 18), blockTimestamp: r.unix, receiptStatus: 1 }
  })
  return { rows, txs }
}

// ---------------------------------------------------------------------------------------------
// Seeds and labels

interface DemoSeed {
  address: string
  label: string
  source: string
  incident: string
  listed: string
}

function ofacLazarusSeeds(): DemoSeed[] {
  const file = join(shared, 'ofac', 'sdn-advanced', 'expected_digital_currency_addresses_2025-11-19.csv')
  const firstSeenFile = join(shared, 'ofac', 'ultrasound-eth', 'ofac_sanction_list_2023-02-13_with_first_seen.csv')
  // its last column (source URL) holds unquoted commas: only the first three columns are used
  const firstSeen = new Map(readCsvRows(firstSeenFile, true).map((r) => [(r.address ?? '').toLowerCase(), r]))
  const rows = readCsvRows(file).filter((r) => r.profile_id === '27307' && r.currency === 'ETH')
  check(rows.length === 8, `${rel(file)}: ${rows.length} Lazarus Group ETH rows, expected 8`)
  return rows.map((r) => {
    check(getAddress(r.address ?? '') === r.address, `${rel(file)}: ${r.address} fails EIP-55`)
    const address = lowerAddress(r.address ?? '', rel(file))
    const seen = firstSeen.get(address)
    check(seen === undefined || /LAZARUS/i.test(seen.label ?? ''), `${address}: first_seen row is not Lazarus`)
    return {
      address,
      label: r.primary_name ?? 'Lazarus Group',
      source: 'OFAC SDN sdn_advanced.xml 2025-11-19, profile 27307',
      incident: 'ronin_bridge_2022',
      listed: seen?.first_seen ?? '',
    }
  })
}

function fbiBybitSeeds(): DemoSeed[] {
  const file = join(shared, 'seeds', 'fbi-bybit-2025', 'fbi_psa250226_eth_addresses.txt')
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '')
  check(lines.length === 51 && new Set(lines.map((l) => l.toLowerCase())).size === 51, `${rel(file)}: expected 51 distinct addresses`)
  return lines.map((l) => {
    check(getAddress(l) === l, `${rel(file)}: ${l} fails EIP-55`)
    return { address: l.toLowerCase(), label: 'Lazarus Group (TraderTraitor) - Bybit theft', source: 'FBI PSA 250226', incident: 'bybit_2025', listed: '2025-02-26' }
  })
}

interface IncidentRow {
  incident: string
  incidentDate: string
  label: string
  role: string
  sourceRepo: string
  sourcePath: string
  sourceCommit: string
}

function incidentList(): Map<string, IncidentRow[]> {
  const file = join(shared, 'seeds', 'lazarus-incidents', 'lazarus_incident_addresses_tayvano.csv')
  const out = new Map<string, IncidentRow[]>()
  for (const r of readCsvRows(file)) {
    if (r.chain !== 'ethereum') continue
    const a = (r.address_lc ?? '').toLowerCase()
    const row = { incident: r.incident ?? '', incidentDate: r.incident_date ?? '', label: r.label ?? '', role: r.role ?? '', sourceRepo: r.source_repo ?? '', sourcePath: r.source_path ?? '', sourceCommit: r.source_commit ?? '' }
    out.set(a, [...(out.get(a) ?? []), row])
  }
  return out
}

/** The Bybit exploiter is not in the FBI PSA list; its attribution here is tayvano's incident research. */
function bybitExploiterSeed(incidents: Map<string, IncidentRow[]>, fbi: readonly DemoSeed[]): DemoSeed & { role: string } {
  check(!fbi.some((s) => s.address === BYBIT_EXPLOITER), 'the Bybit exploiter is in the FBI list now: use source "FBI PSA 250226" again')
  const row = incidents.get(BYBIT_EXPLOITER)?.find((r) => r.incident === 'bybit_2025')
  check(row !== undefined && row.role === 'attacker', 'the Bybit exploiter is not an attacker row of the incident list')
  return {
    address: BYBIT_EXPLOITER,
    label: 'Bybit exploiter (Lazarus Group / TraderTraitor)',
    source: `tayvano/lazarus-bluenoroff-research ${row.sourcePath} @${row.sourceCommit.slice(0, 8)} ("${row.label}"; role attacker); not in FBI PSA 250226`,
    incident: 'bybit_2025',
    listed: row.incidentDate,
    role: row.role,
  }
}

interface DemoLabel {
  address: string
  label: string
  category: string
  source: string
}

/** A handful of real service labels that occur in the two flows, each checked against its source file. */
function demoLabels(): DemoLabel[] {
  const brian = (file: string) => join(shared, 'labels', 'brianleect_2023-06', file)
  const dawsbot = join(shared, 'labels', 'dawsbot_2022', 'phish-hack_all.csv')
  const wanted: { address: string; category: string; file: string; why: string }[] = [
    { address: '0x4976a4a02f38326660d17bf34b431dc6e2eb2327', category: 'exchange', file: brian('binance.csv'), why: 'funded the Ronin exploiter before the theft' },
    { address: '0x1a2a1c938ce3ec39b6d47113c7955baa9dd454f2', category: 'bridge', file: brian('bridge.csv'), why: 'the robbed bridge; the exploiter sent it zero-value calls' },
    { address: '0x3fc91a3afd70395cd496c647d5a6cc9d4b2b7fad', category: 'dex', file: brian('dex.csv'), why: 'router of the mETH swaps of 0xa4b2fd68' },
    { address: DEFAULT_LISTED.stETH, category: 'staking', file: brian('lido.csv'), why: 'Lido staking pool / stETH token contract' },
    { address: '0xa14429e90bd90e17d2a97c4eac1feefabb88727f', category: 'phishing', file: dawsbot, why: 'dusted the Ronin exploiter; a suspect label, not a service' },
  ]
  return wanted.map((w) => {
    const rows = readCsvRows(w.file)
    const row = rows.find((r) => (r.Address ?? r.address ?? '').toLowerCase() === w.address)
    check(row !== undefined, `${w.address} not in ${rel(w.file)}`)
    const name = row['Name Tag'] ?? row.nameTag ?? ''
    check(name !== '', `${w.address}: empty name tag in ${rel(w.file)}`)
    const scrape = w.file.includes('brianleect') ? 'brianleect/etherscan-labels 2023-06' : 'dawsbot/eth-labels 2022-05'
    return { address: w.address, label: name, category: w.category, source: `${scrape}: ${rel(w.file).replace(/^labels\//, '')}` }
  })
}

// ---------------------------------------------------------------------------------------------
// Self-check of the written files

function checkWrittenEtl(dir: string): { txs: TxRow[]; tokens: TokenRow[] } {
  const txFile = join(dir, 'transactions.csv')
  const tokenFile = join(dir, 'token_transfers.csv')
  const txText = readFileSync(txFile, 'utf8')
  const tokenText = readFileSync(tokenFile, 'utf8')
  check(txText.split('\n')[0] === TX_HEADER.join(','), `${txFile}: header`)
  check(tokenText.split('\n')[0] === TOKEN_HEADER.join(','), `${tokenFile}: header`)
  const txRows = parse(txText, { columns: true }) as Row[]
  const tokenRows = parse(tokenText, { columns: true }) as Row[]
  const seen = new Set<string>()
  const positions = new Set<string>()
  const txs: TxRow[] = txRows.map((r, i) => {
    const where = `${txFile} line ${i + 2}`
    for (const k of ['hash', 'block_hash'] as const) check(HASH_RE.test(r[k] ?? ''), `${where}: ${k} ${r[k]}`)
    for (const k of ['from_address', 'to_address'] as const) check(ADDRESS_RE.test(r[k] ?? ''), `${where}: ${k} ${r[k]}`)
    for (const k of ['nonce', 'block_number', 'transaction_index', 'value', 'gas', 'gas_price', 'block_timestamp'] as const) check(UINT_RE.test(r[k] ?? ''), `${where}: ${k} ${r[k]} is not an integer`)
    check(r.receipt_status === '0' || r.receipt_status === '1', `${where}: receipt_status`)
    check(r.input === '0x', `${where}: input`)
    check(!seen.has(r.hash!), `${where}: duplicate hash`)
    seen.add(r.hash!)
    const p = `${r.block_number}/${r.transaction_index}`
    check(!positions.has(p), `${where}: duplicate position ${p}`)
    positions.add(p)
    return {
      hash: r.hash!, blockNumber: Number(r.block_number), transactionIndex: Number(r.transaction_index), from: r.from_address!, to: r.to_address!,
      value: r.value!, blockTimestamp: Number(r.block_timestamp), receiptStatus: r.receipt_status === '1' ? 1 : 0,
    }
  })
  const byHash = new Map(txs.map((t) => [t.hash, t]))
  for (let i = 1; i < txs.length; i++) check(byPosition(txs[i - 1]!, txs[i]!) < 0, `${txFile}: rows not in (block, index) order at line ${i + 2}`)
  const logs = new Set<string>()
  const tokens: TokenRow[] = tokenRows.map((r, i) => {
    const where = `${tokenFile} line ${i + 2}`
    for (const k of ['token_address', 'from_address', 'to_address'] as const) check(ADDRESS_RE.test(r[k] ?? ''), `${where}: ${k} ${r[k]}`)
    check(HASH_RE.test(r.transaction_hash ?? ''), `${where}: transaction_hash`)
    for (const k of ['value', 'log_index', 'block_number'] as const) check(UINT_RE.test(r[k] ?? ''), `${where}: ${k} ${r[k]} is not an integer`)
    const tx = byHash.get(r.transaction_hash!)
    check(tx !== undefined, `${where}: no transactions row for ${r.transaction_hash}`)
    check(String(tx.blockNumber) === r.block_number, `${where}: block ${r.block_number} ≠ its transaction's ${tx.blockNumber}`)
    const l = `${r.block_number}/${r.log_index}`
    check(!logs.has(l), `${where}: duplicate log index ${l}`)
    logs.add(l)
    return { token: r.token_address!, from: r.from_address!, to: r.to_address!, value: r.value!, txHash: r.transaction_hash!, logIndex: Number(r.log_index), blockNumber: Number(r.block_number) }
  })
  return { txs, tokens }
}

function checkAddressColumns(file: string, columns: readonly string[], header: readonly string[]): Row[] {
  const text = readFileSync(file, 'utf8')
  check(text.split('\n')[0] === header.join(','), `${file}: header ${text.split('\n')[0]} ≠ ${header.join(',')}`)
  const rows = parse(text, { columns: true }) as Row[]
  rows.forEach((r, i) => {
    for (const c of columns) check(ADDRESS_RE.test(r[c] ?? ''), `${file} line ${i + 2}: ${c} ${r[c]}`)
  })
  check(new Set(rows.map((r) => r[columns[0]!])).size === rows.length, `${file}: duplicate addresses`)
  return rows
}

// ---------------------------------------------------------------------------------------------
// Main

function main(): void {
  const incidents = incidentList()

  // ---- 1. bybit-trace -------------------------------------------------------------------------
  const b = buildBybit()
  const traceSeeds = new Set([BYBIT_EXPLOITER])
  const traceTransfers = countedTransfers(b.txs, b.tokens, TRACE_LISTED)
  const hops = downstreamHops(traceTransfers, { seeds: traceSeeds })
  const plain = downstreamHops(traceTransfers, { seeds: traceSeeds, ignoreTime: true })
  const hopsReversed = downstreamHops(countedTransfers(reversedIndexes(b.txs), b.tokens, TRACE_LISTED), { seeds: traceSeeds })
  const hopsDefaultList = downstreamHops(countedTransfers(b.txs, b.tokens, DEMO_DEFAULT_LISTED), { seeds: traceSeeds })
  const sameMap = (x: Map<string, number>, y: Map<string, number>) => x.size === y.size && [...x].every(([k, v]) => y.get(k) === v)
  check(sameMap(hops, hopsReversed), 'hops depend on the invented within-block transaction order')
  // the derived file was a plain BFS: the untimed run must reproduce it, or our graph differs from theirs
  check(sameMap(plain, b.derivedHops), 'the untimed BFS over our rows does not reproduce the derived file')
  const differences: string[] = []
  for (const a of new Set([...hops.keys(), ...b.derivedHops.keys()])) {
    const mine = hops.get(a)
    const theirs = b.derivedHops.get(a)
    if (mine !== theirs) differences.push(`${a}: derived ${theirs ?? 'none'}, time-respecting ${mine ?? 'none'}`)
  }
  const listDifferences: string[] = []
  for (const a of new Set([...hops.keys(), ...hopsDefaultList.keys()])) {
    if (hops.get(a) !== hopsDefaultList.get(a)) listDifferences.push(`${a}: ${hops.get(a) ?? 'none'} with mETH+cmETH listed, ${hopsDefaultList.get(a) ?? 'none'} with the default list only`)
  }
  const spam = spamAddresses(b, hops, traceSeeds)
  // for each non-seed wallet that passes funds on: first counted inflow vs first counted outflow
  const timing = [...new Set(traceTransfers.map((t) => t.from))]
    .filter((a) => !traceSeeds.has(a))
    .map((a) => {
      const first = (ts: CountedTransfer[]) => ts.reduce((m, t) => Math.min(m, t.block), Number.POSITIVE_INFINITY)
      const inflow = first(traceTransfers.filter((t) => t.to === a))
      const outflow = first(traceTransfers.filter((t) => t.from === a))
      check(inflow < outflow, `${a}: first outflow ${outflow} not after first inflow ${inflow}: explain it in PROVENANCE`)
      return `${a} (hop ${hops.get(a)}): first counted inflow in block ${inflow}, first counted outflow in block ${outflow}`
    })
  const exploiterSeed = bybitExploiterSeed(incidents, fbiBybitSeeds())

  writeCsv(join(outTrace, 'transactions.csv'), TX_HEADER, txCsvRows(b.txs))
  writeCsv(join(outTrace, 'token_transfers.csv'), TOKEN_HEADER, tokenCsvRows(b.tokens))
  writeCsv(join(outTrace, 'seeds.csv'), ['address', 'label', 'source'], [[exploiterSeed.address, exploiterSeed.label, exploiterSeed.source]])
  const hopRows = [...hops].sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]))
  writeCsv(join(outTrace, 'expected_hops.csv'), ['address', 'downstream_hops'], hopRows.map(([a, h]) => [a, h]))
  writeCsv(join(outTrace, 'spam_addresses.csv'), ['address', 'reason'], spam.map((s) => [s.address, s.reason]))

  const hopCounts = (m: Map<string, number>) =>
    [0, 1, 2, 3, 4].map((k) => [...m.values()].filter((v) => v === k).length).map((n, k) => `${n} at hop ${k}`).join(', ')
  const nativeCount = b.edges.filter((e) => e.kind === 'native').length
  const tokenCount = b.edges.length - nativeCount
  const zeroNative = b.edges.filter((e) => e.kind === 'native' && BigInt(toBaseUnits(e.amount, 18)) === 0n).length
  const fakeTokens = b.edges.filter((e) => e.kind === 'token' && !TRACE_LISTED.has(e.contract)).length
  const zeroGenuineTokens = b.edges.filter((e) => e.kind === 'token' && TRACE_LISTED.has(e.contract) && BigInt(toBaseUnits(e.amount, 18)) === 0n).length
  writeText(
    join(outTrace, 'PROVENANCE.txt'),
    `ITEM: The Bybit exploiter's traced outflows (Feb-Mar 2025), hops 1-3, as ethereum-etl CSVs, with expected downstream hops.
Source: ../shared/data/transfers/bybit-2025-trace/ (read its PROVENANCE.txt): phvaz/blockchain-fund-tracing-investigation (GitHub),
  data/raw/hop1.csv @3310d9fe, hop2.csv @e0d57196, hop3.csv @fbfce4b8, Etherscan-derived; NO LICENSE stated (all rights reserved):
  only the facts (hashes, blocks, times, addresses, amounts) are used, re-expressed in the ethereum-etl format; test use only.
  Trimmed there: hop1 = all native + all genuine stETH/mETH/cmETH rows + 14 sampled poisoning rows + the 'BybitExploiter' spam row;
  hop3 = the first 58 rows; values not verified on-chain.
Built by scripts/build-fixtures.ts from bybit_edges_derived.csv (the three hop files stacked, from_address added) joined row by row with
  hop1_trimmed.csv/hop2.csv/hop3_trimmed.csv for is_error (all checked to agree on hash, to, amount, block, time, kind, contract).

Edges: ${b.edges.length} (NOT 168 as the source PROVENANCE says: 68 + 43 + 58 = ${b.edges.length}): ${nativeCount} native, ${tokenCount} token rows;
  ${zeroNative} native rows with 0 ETH (contract calls), ${fakeTokens} rows of unlisted (fake/spam) tokens, ${zeroGenuineTokens} zero-value transfer(s) of a genuine token.
  All of them are in the CSVs: the tracer must ignore the zero-value and unlisted ones.
transactions.csv: ${b.txs.length} rows = one per distinct tx hash (${b.edges.length} edges, some share a hash).
  - hash, block_number: real (from the source). block_timestamp = unix seconds of timestamp_utc (UTC).
  - native edge → from, to, value = amount ETH × 10^18 (exact decimal→integer with BigInt; amounts such as 78.18794261240247 are the
    source's rounded decimal strings, so the last wei digits are not the on-chain ones).
  - token-only tx → from = the token sender, to = the token contract, value 0 (what a token transfer call looks like).
  - a hash with both a native row and token rows → one transactions row carrying the native row (its to is then a router/pool
    or the token contract, its value 0 in every such case here).
  - receipt_status = 0 if is_error = 1, else 1 (every source row has is_error = 0, so all are 1).
  - transaction_index: UNKNOWN in the source; assigned 0, 1, … by order of first appearance of the hash within each block in
    bybit_edges_derived.csv. The expected hops do not depend on it: the script recomputes them with the indexes reversed within
    every block and gets the same result.
  - nonce 0, block_hash 0x00…00, gas 0, gas_price 0, input 0x: unknown, neutral placeholders.
token_transfers.csv: ${b.tokens.length} rows, one per token edge; value = amount × 10^decimals: stETH, mETH, cmETH have 18 decimals (mETH:
  mantle-lsp/contracts src/METH.sol, cmETH: mantle-xyz/cMETH-boring-vault src/L1cmETH.sol, both OpenZeppelin ERC-20 without a
  decimals() override; not checked with an on-chain call); the fake tokens' decimals are unknown and taken as 18. log_index: unknown,
  assigned 0, 1, … per block in order of appearance. Each row has a transactions row with the same hash (checked).
Conflicts found while merging edges that share a hash:
${b.conflicts.map((c) => `  - ${c}`).join('\n')}

seeds.csv: the Bybit exploiter ${BYBIT_EXPLOITER}.
  NOTE: it is NOT among the 51 addresses of FBI PSA 250226 in ../shared/data/seeds/fbi-bybit-2025/ (checked); its attribution here is
  tayvano's Bybit research (lazarus_incident_addresses_tayvano.csv: "${incidents.get(BYBIT_EXPLOITER)?.[0]?.label}", role attacker).
  All 51 FBI addresses do occur in this trace (as hop-1 to hop-3 recipients).

expected_hops.csv: downstream hops from that one seed, COMPUTED by scripts/build-fixtures.ts under DESIGN.md's rules: transfers count
  when receipt_status 1 and value > 0 (native) or the token is listed and value > 0; paths are time-respecting on (block_number,
  transaction_index), equal positions chain; maxHops ${MAX_HOPS}; listed tokens = the default list (USDT, USDC, DAI, WETH, WBTC, stETH)
  PLUS mETH ${METH} and cmETH ${CMETH} (a test must configure that list); no stop nodes (no labels: the three
  "token contract / DEX (hub)" addresses of the derived file have no outgoing transfers here, so stopping at them changes nothing).
  Result: ${hopCounts(hops)} (${hops.size} addresses).
  Versus expected_hops_from_bybit_seed_derived.csv (plain BFS without time order; re-run here untimed it is reproduced exactly):
${differences.length === 0 ? `  - no difference. Time order could only matter at the non-seed wallets that pass funds on, and each of them was funded before\n    its first counted outflow, so it removes no path and lengthens none:\n${timing.map((t) => `    ${t}`).join('\n')}` : differences.map((d) => `  - ${d}`).join('\n')}
  With the DEFAULT token list only (without mETH/cmETH) the answer would differ:
${listDifferences.map((d) => `  - ${d}`).join('\n')}
spam_addresses.csv: ${spam.length} recipients of address-poisoning rows (unlisted look-alike tokens, zero-value transfers) that must NOT be
  reached; each reason names the traced wallet it imitates. (The exploiter's own 'BybitExploiter' spam token to itself is left out: a seed.)
`,
  )

  // ---- 2. demo --------------------------------------------------------------------------------
  const ronin = buildRonin()
  const bybitAddrs = new Set(b.txs.flatMap((t) => [t.from, t.to]).concat(b.tokens.flatMap((t) => [t.from, t.to, t.token])))
  const roninAddrs = new Set(ronin.txs.flatMap((t) => [t.from, t.to]))
  const shared_ = [...roninAddrs].filter((a) => bybitAddrs.has(a))
  // Ronin pseudo block numbers (unix times, ~1.65e9) sort after the real 2025 blocks (~2.19e7): only safe if the flows do not touch.
  check(shared_.length === 0, `the two flows share addresses: ${shared_.join(', ')}`)
  const demoTxs = [...b.txs, ...ronin.txs].sort(byPosition)
  const ofac = ofacLazarusSeeds()
  const fbi = fbiBybitSeeds()
  const seeds: DemoSeed[] = [...ofac, ...fbi, exploiterSeed]
  check(new Set(seeds.map((s) => s.address)).size === seeds.length, 'seed lists overlap')
  const labels = demoLabels()
  const demoSeedSet = new Set(seeds.map((s) => s.address))
  const demoStop = new Set(labels.filter((l) => DEMO_STOP_CATEGORIES.has(l.category)).map((l) => l.address))
  const demoTransfers = countedTransfers(demoTxs, b.tokens, DEMO_DEFAULT_LISTED)
  const demoDown = downstreamHops(demoTransfers, { seeds: demoSeedSet, stop: demoStop })
  const demoUp = upstreamHops(demoTransfers, { seeds: demoSeedSet, stop: demoStop })
  const demoTransfersMeth = countedTransfers(demoTxs, b.tokens, TRACE_LISTED)
  const demoDownMeth = downstreamHops(demoTransfersMeth, { seeds: demoSeedSet, stop: demoStop })
  const demoUpMeth = upstreamHops(demoTransfersMeth, { seeds: demoSeedSet, stop: demoStop })
  const demoListDiff = [...new Set([...demoDown.keys(), ...demoDownMeth.keys(), ...demoUp.keys(), ...demoUpMeth.keys()])]
    .filter((a) => demoDown.get(a) !== demoDownMeth.get(a) || demoUp.get(a) !== demoUpMeth.get(a))
    .map((a) => `${a}: downstream ${demoDown.get(a) ?? 'none'} / upstream ${demoUp.get(a) ?? 'none'} (default list), ${demoDownMeth.get(a) ?? 'none'} / ${demoUpMeth.get(a) ?? 'none'} with mETH+cmETH`)

  const screenPicks: { address: string; note: string; expect: [number | undefined, number | undefined] }[] = [
    { address: RONIN_EXPLOITER, note: 'Ronin bridge exploiter; OFAC SDN Lazarus Group (seed)', expect: [0, 0] },
    { address: BYBIT_EXPLOITER, note: 'Bybit exploiter (seed from tayvano incident research; not in the FBI list)', expect: [0, 0] },
    { address: '0x35fb6f6db4fb05e6a4ce86f2c93691425626d4b1', note: 'Ronin intermediary to Tornado Cash; OFAC SDN Lazarus Group (seed)', expect: [0, 0] },
    { address: '0xbc25d57412a04956cdd95af07825c5c1f34d29eb', note: 'Ronin Tornado Cash depositor (tayvano) paid 1000 + 1001 ETH by the exploiter', expect: [1, undefined] },
    { address: '0x13113ccfe609c081bb9a7f7d69484b96b90b39fc', note: 'Ronin Tornado Cash depositor (tayvano) paid 3012.1 ETH by OFAC intermediary 0x35fb6f6d', expect: [1, undefined] },
    { address: '0x776b80e3fd97516ae3a2579cf4eae5ff5867d0f3', note: 'Ronin intermediary to exchanges (tayvano attacker; not on the OFAC list) paid 1250 ETH', expect: [1, undefined] },
    { address: '0x36ed3c0213565530c35115d93a80f9c04d94e4cb', note: 'Bybit: 10000 ETH from the exploiter; the one 10k wallet not in the FBI list', expect: [1, undefined] },
    { address: '0x6bb000067005450704003100632eb93ea00c0000', note: 'Bybit: stETH from FBI wallet 0xa4b2fd68 (hop 2 from the exploiter in fixtures/bybit-trace)', expect: [1, undefined] },
    { address: '0x9a991b300fe9ced1b630456afd1a7e2666e96a7b', note: 'Bybit: ETH from FBI wallet 0xdd90071d (hop 3 from the exploiter in fixtures/bybit-trace)', expect: [1, undefined] },
    { address: '0xa4b24033f4c6d70133e4557c2c32a3fb693e449e', note: 'Bybit address poisoning: look-alike of 0xa4b2fd68; only fake stETH and a zero-value stETH transfer', expect: [undefined, undefined] },
    { address: '0x4976a4a02f38326660d17bf34b431dc6e2eb2327', note: 'Binance 20 (exchange label): sent the Ronin exploiter 1.0569 ETH before the theft', expect: [undefined, 1] },
    { address: '0x03cf40b900971561ac6bd997ef1fe939dcbc95e2', note: `sent the Ronin exploiter ${ronin.rows.filter((r) => r.from === '0x03cf40b900971561ac6bd997ef1fe939dcbc95e2' && r.to === RONIN_EXPLOITER && r.totalEth === '0.0').length} zero-value transactions and nothing else (must not count)`, expect: [undefined, undefined] },
    { address: '0x28c6c06298d514db089934071355e5743bf21d60', note: 'Binance 14: unrelated; not in these flows', expect: [undefined, undefined] },
  ]
  const screen = screenPicks.map((p) => {
    const down = demoDown.get(p.address)
    const up = demoUp.get(p.address)
    check(down === p.expect[0] && up === p.expect[1], `screen ${p.address}: computed downstream ${down} upstream ${up}, expected ${p.expect.join('/')}`)
    const expected = `expected downstream ${down ?? 'none'} / upstream ${up ?? 'none'}`
    check(!/[",\n]/.test(p.note), `screen note with a comma or quote: ${p.note}`)
    return { address: p.address, note: `${p.note}; ${expected}` }
  })
  check(!screenPicks.some((p) => roninAddrs.has(p.address) && bybitAddrs.has(p.address)), 'screen address in both flows')
  check(roninAddrs.has('0x03cf40b900971561ac6bd997ef1fe939dcbc95e2') && !roninAddrs.has('0x28c6c06298d514db089934071355e5743bf21d60') && !bybitAddrs.has('0x28c6c06298d514db089934071355e5743bf21d60'), 'unrelated picks')
  const tcDepositors = [...roninAddrs].filter((a) => incidents.get(a)?.some((r) => r.incident === 'ronin_bridge_2022' && r.role === 'mixer_depositor'))
  const hop2 = [...demoDown].filter(([, h]) => h >= 2)

  writeCsv(join(outDemo, 'transactions.csv'), TX_HEADER, txCsvRows(demoTxs))
  writeCsv(join(outDemo, 'token_transfers.csv'), TOKEN_HEADER, tokenCsvRows(b.tokens))
  writeCsv(join(outDemo, 'seeds.csv'), ['address', 'label', 'source', 'incident', 'listed'], seeds.map((s) => [s.address, s.label, s.source, s.incident, s.listed]))
  writeCsv(join(outDemo, 'labels.csv'), ['address', 'label', 'category', 'source'], labels.map((l) => [l.address, l.label, l.category, l.source]))
  writeCsv(join(outDemo, 'screen.csv'), ['address', 'note'], screen.map((s) => [s.address, s.note]))

  const roninZero = ronin.txs.filter((t) => t.value === '0').length
  const roninFromSeeds = ronin.rows.filter((r) => ofac.some((s) => s.address === r.from)).length
  const demoCommon = `Two real fund flows as ethereum-etl CSVs, for \`npm run demo\` (src/cli/commands/demo.ts reads this folder):
- Bybit 2025: exactly the rows of ../bybit-trace/ (${b.txs.length} transactions, ${b.tokens.length} token transfers, real hashes and blocks; see its PROVENANCE.txt).
- Ronin 2022: ${ronin.txs.length} ETH transfers touching the 8 OFAC Lazarus Group addresses, from a Dune export that has only block_time, from,
  to and total_eth: NO transaction hashes, NO block numbers. So, for these rows:
  - hash = 0x + 48 zeros + d0e0 + the row number in the Dune file as 12 hex digits (e.g. ${roninHash(1)} for row 1):
    an obvious PLACEHOLDER, not a real transaction hash; do not look it up on a block explorer.
  - block_number = block_timestamp = the unix time of block_time: monotone, keeps the order, obviously NOT a real block number.
  - transaction_index = order of the rows that share a block_time, by row number in the Dune file (${[...new Set(ronin.txs.filter((t) => t.transactionIndex > 0).map((t) => t.blockNumber))].length} such times).
  - value = total_eth × 10^18 wei, exact decimal→integer (BigInt; Dune prints floats such as 1e-05 and 1180.1426056027744, so the last
    wei digits are the float's, not the chain's). ${roninZero} rows have total_eth 0.0: zero-value dusting/contract calls, kept with value 0,
    they must not count. receipt_status 1 (the export has no status). nonce 0, block_hash 0x00…00, gas 0, gas_price 0, input 0x: placeholders.
  Because the Ronin pseudo block numbers (~1.65e9) sort after the real 2025 Bybit blocks (~2.19e7), positions are comparable only
  within one flow; the build script checks that the two flows share no address, so no path mixes them.`
  writeText(
    join(outDemo, 'PROVENANCE.txt'),
    `ITEM: End-to-end demo data: the Bybit 2025 trace plus the Ronin 2022 Lazarus transfers, as ethereum-etl CSVs, with seeds, labels
and the addresses of the demo's screening table. Built by scripts/build-fixtures.ts from ../shared/data (paths below are relative to it).

${demoCommon}
  The export holds ETH only: the exploiter's zero-value calls to the USDC contract (${ronin.rows.filter((r) => r.from === RONIN_EXPLOITER && r.to === DEFAULT_LISTED.USDC).length} rows) moved USDC whose Transfer logs are not
  in it, so the stolen USDC is not traced here.
  Source: transfers/ronin-2022-dune/LazarusTabularTxs1322519.csv (dspytdao/Eth_Data, MIT, commit 955817a0; Dune query 1322519), all
  ${ronin.rows.length} rows, 2022-03-23 .. 2022-09-27; ${roninFromSeeds} of them are sent by one of the 8 seeds.

transactions.csv: ${demoTxs.length} rows (${b.txs.length} Bybit + ${ronin.txs.length} Ronin), sorted by (block_number, transaction_index).
token_transfers.csv: ${b.tokens.length} rows (Bybit only; the Dune export has no token transfers).

seeds.csv (address,label,source,incident,listed), ${seeds.length} rows, lowercase addresses:
  - ${ofac.length} OFAC Lazarus Group ETH addresses: ofac/sdn-advanced/expected_digital_currency_addresses_2025-11-19.csv, profile 27307 (DPRK3),
    flattened from the real sdn_advanced.xml of 2025-11-19 (brave-intl/ofac-sanctioned-digital-currency-addresses, commit 3ed66906).
    listed = the date OFAC added each address: ofac/ultrasound-eth/ofac_sanction_list_2023-02-13_with_first_seen.csv (first_seen:
    2022-04-14 for the exploiter, 2022-04-22 for three, 2022-05-06 for four; OFAC recent-actions pages named there).
  - ${fbi.length} addresses of FBI PSA I-022625-PSA (2025-02-26): seeds/fbi-bybit-2025/fbi_psa250226_eth_addresses.txt (all pass EIP-55).
    listed = 2025-02-26 (the PSA's date; the project's convention for this list, src/seeds/lists.ts).
  - 1 more, NOT in the two lists the brief named: the Bybit exploiter ${BYBIT_EXPLOITER}. It is not in the FBI list; without it the
    Bybit part of the demo would have no seed upstream of the FBI wallets. Source: seeds/lazarus-incidents/lazarus_incident_addresses_tayvano.csv
    (tayvano/lazarus-bluenoroff-research hacks-and-thefts/bybit.md @10be18ec, role attacker); listed = the incident date ${exploiterSeed.listed}.
    Drop that row for a seed set of exactly OFAC + FBI: then 0x36ed3c02 (its only funder is the exploiter) comes out none.
labels.csv (address,label,category,source): ${labels.length} real Etherscan labels of addresses that occur in the flows; label = the
  Etherscan name tag, source = the scrape and file under labels/ (brianleect/etherscan-labels 2023-06-18 data commit 2dec0bc5, MIT;
  dawsbot/eth-labels commit 57b3cc14, MIT):
${labels.map((l) => `  - ${l.address} ${l.label} → ${l.category} (${l.source})`).join('\n')}
  Lido stETH is 'staking', not a made-up 'service': the contract is Lido's staking pool (ETH sent to it is pooled with everyone's
  and minted as stETH), a hub like an exchange, so by DESIGN's stop-node idea exposure should not pass through it; stETH Transfer
  logs between holders do not pass through the contract address, so labelling it does not hide them. 'service' is also not a
  category the label importer accepts (src/seeds/label-categories.ts). NOTE: src/config.ts's default stop categories are
  exchange, dex, bridge, mixer, service, so by default the demo stops at Binance 20, the Ronin bridge and the Uniswap router but
  not at Lido. In this data none of the labelled addresses is reached downstream (they get only zero-value calls) except as an end,
  so the labels change no hop count here. 'phishing' is a suspect label, not a service: exposure keeps flowing through it.
screen.csv (address,note): ${screen.length} addresses for the demo's screening table; each note ends with the hops the build script
  computed for this folder under the demo's defaults (maxHops ${MAX_HOPS}, default token list, the stop categories above):
${screen.map((s) => `  - ${s.address}: ${s.note}`).join('\n')}
  There is no downstream 2-hop wallet in this data set: every Ronin wallet that pays others is one of the 8 OFAC seeds, and the
  FBI list names the Bybit wallets that pass funds on (0xa4b2fd68, 0xdd90071d), so what is hop 2 or 3 in ../bybit-trace/ is hop 1
  here (downstream hop counts: ${hopCounts(demoDown)}).
  ${tcDepositors.length} of tayvano's 48 Ronin Tornado Cash depositors occur in the flow; all come out at downstream hop 1.
  Token list: the demo's default list does not include mETH/cmETH; ${demoListDiff.length === 0 ? 'adding them changes no hop count in this folder (their only recipients are reached otherwise or are seeds).' : `adding them changes: ${demoListDiff.join('; ')}.`}
`,
  )
  writeText(
    join(outDemo, 'README.md'),
    `# Demo data: Bybit 2025 and Ronin 2022

\`npm run demo\` imports this folder into Redis (\`transactions.csv\`, \`token_transfers.csv\`), loads \`seeds.csv\` and \`labels.csv\`,
walks ${MAX_HOPS} hops in both directions and screens the addresses in \`screen.csv\`. Nothing here is read from outside the repository.
Regenerate with \`node --import tsx scripts/build-fixtures.ts\` (reads ../shared/data); details and sources in PROVENANCE.txt.

${demoCommon}

| file | rows | what |
| --- | ---: | --- |
| transactions.csv | ${demoTxs.length} | ethereum-etl transactions: ${b.txs.length} Bybit (real) + ${ronin.txs.length} Ronin (placeholder hashes, pseudo blocks) |
| token_transfers.csv | ${b.tokens.length} | Bybit token transfers: genuine stETH/mETH/cmETH, fake look-alike tokens, zero-value poisoning |
| seeds.csv | ${seeds.length} | ${ofac.length} OFAC SDN Lazarus Group (Ronin), ${fbi.length} FBI PSA 250226 (Bybit), the Bybit exploiter (tayvano) |
| labels.csv | ${labels.length} | Etherscan labels: an exchange, a bridge, a DEX router, Lido, a phishing tag |
| screen.csv | ${screen.length} | the screening table, with the expected hops in each note |

What the screening table should show (computed by the build script with the demo's defaults):

| address | note |
| --- | --- |
${screen.map((s) => `| \`${s.address}\` | ${s.note} |`).join('\n')}

Traps on purpose, all real: zero-value transactions (dusting the Ronin exploiter, contract calls), unlisted tokens with homoglyph
symbols sent to look-alike addresses (Bybit address poisoning), a zero-value transfer of genuine stETH, and an exchange that funded
the Ronin exploiter (exposed upstream, but a stop node). mETH and cmETH are not on the default token list; see PROVENANCE.txt.
`,
  )

  // ---- self-check of the written files ---------------------------------------------------------
  for (const [dir, expectedTx, expectedTok] of [[outTrace, b.txs.length, b.tokens.length], [outDemo, demoTxs.length, b.tokens.length]] as const) {
    const { txs, tokens } = checkWrittenEtl(dir)
    check(txs.length === expectedTx && tokens.length === expectedTok, `${dir}: row counts`)
  }
  const trace = checkWrittenEtl(outTrace)
  const reHops = downstreamHops(countedTransfers(trace.txs, trace.tokens, TRACE_LISTED), { seeds: traceSeeds })
  const writtenHops = new Map(checkAddressColumns(join(outTrace, 'expected_hops.csv'), ['address'], ['address', 'downstream_hops']).map((r) => [r.address!, Number(r.downstream_hops)]))
  check(sameMap(reHops, writtenHops), 'expected_hops.csv ≠ hops recomputed from the written CSVs')
  for (const r of checkAddressColumns(join(outTrace, 'spam_addresses.csv'), ['address'], ['address', 'reason'])) check(!reHops.has(r.address!), `spam ${r.address} reached`)
  checkAddressColumns(join(outTrace, 'seeds.csv'), ['address'], ['address', 'label', 'source'])
  const demo = checkWrittenEtl(outDemo)
  const demoSeedRows = checkAddressColumns(join(outDemo, 'seeds.csv'), ['address'], ['address', 'label', 'source', 'incident', 'listed'])
  for (const r of demoSeedRows) check(r.listed === '' || /^\d{4}-\d{2}-\d{2}$/.test(r.listed ?? ''), `seed listed ${r.listed}`)
  checkAddressColumns(join(outDemo, 'labels.csv'), ['address'], ['address', 'label', 'category', 'source'])
  const screenRows = checkAddressColumns(join(outDemo, 'screen.csv'), ['address'], ['address', 'note'])
  const reDown = downstreamHops(countedTransfers(demo.txs, demo.tokens, DEMO_DEFAULT_LISTED), { seeds: new Set(demoSeedRows.map((r) => r.address!)), stop: demoStop })
  for (const r of screenRows) check((r.note ?? '').includes(`expected downstream ${reDown.get(r.address!) ?? 'none'} `), `screen ${r.address}: note vs recomputed hops`)
  for (const t of demo.txs.filter((x) => x.hash.includes('d0e0'))) check(t.hash.startsWith(`0x${'0'.repeat(48)}d0e0`), 'placeholder hash shape')

  const out = (s: string) => process.stdout.write(`${s}\n`)
  out(`fixtures/bybit-trace: ${b.edges.length} edges → ${b.txs.length} transactions, ${b.tokens.length} token transfers; hops: ${hopCounts(hops)}`)
  out(`  differences from the derived file: ${differences.length === 0 ? 'none' : differences.join('; ')}`)
  out(`  default list only would change: ${listDifferences.join('; ')}`)
  out(`  ${spam.length} spam addresses; ${b.conflicts.length} hash-sharing notes`)
  out(`fixtures/demo: ${demoTxs.length} transactions, ${b.tokens.length} token transfers, ${seeds.length} seeds, ${labels.length} labels, ${screen.length} screen rows`)
  out(`  demo downstream: ${hopCounts(demoDown)}; hop ≥ 2: ${hop2.length}; upstream: ${hopCounts(demoUp)}; TC depositors in flow: ${tcDepositors.length}`)
  out(`  demo mETH/cmETH differences: ${demoListDiff.length === 0 ? 'none' : demoListDiff.join('; ')}`)
  out('self-check passed')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main()
