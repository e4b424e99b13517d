/**
 * The haircut taint replay. Pure: store reads are in taint-region.ts.
 *
 * Per asset, the transfers of the region between the seeds and the target W are replayed in chain
 * order. Every address keeps a balance and its tainted part:
 *
 * - a seed sends fully tainted value (its own balance is not tracked);
 * - an address outside the region sends clean value (it is not tracked either);
 * - an address of the region (and W) that receives `a` with taint `t`: balance += a, tainted += t;
 * - one that sends `a` out of a balance `b` holding `d` tainted carries the haircut share
 *   t = ⌊a · d / b⌋ and keeps b − a, d − t; if it sends more than the data shows it received
 *   (a > b), the excess a − b is pre-existing, clean balance: the transfer carries all of d, and the
 *   excess is reported per address as "unexplained".
 *
 * Chain order: by position (block, transaction index); inside one transaction the external
 * transfer first, then internal calls in trace order (their sub-indices follow it:
 * sources/trace-index.ts), token transfers by log index. Amounts are exact bigints; the one
 * rounding, the floor of each carried share, is what the README's worked example shows.
 */
import type { TransferKind } from '../types.ts'

export interface TaintTransfer {
  from: string
  to: string
  asset: string
  amount: bigint
  position: number
  kind: TransferKind
  subIndex: number
  txHash: string
}

export interface TaintInput {
  /** Every transfer touching the region (any order, duplicates allowed: they are dropped). */
  transfers: readonly TaintTransfer[]
  seeds: ReadonlySet<string>
  /**
   * The region's addresses (the target included), the ones whose balances are tracked, each with
   * its bound: the latest position at which it sent on the way to the target (the target: ∞).
   * Value an address sends beyond its balance counts as unexplained only up to its bound: later
   * sends cannot reach the target.
   */
  region: ReadonlyMap<string, number>
  target: string
  /** Floors by asset: a transfer below its floor does not count. */
  dust: Readonly<Record<string, bigint>>
  /** The caller guarantees no transfer is listed twice (skips the de-duplication). */
  distinct?: boolean
}

/** One step of a contributing path: a transfer and the taint it carried. */
export interface TaintStep {
  transfer: TaintTransfer
  tainted: bigint
}

export interface AssetTaint {
  asset: string
  /** Everything the target received in this asset (counting transfers). */
  received: bigint
  /** The tainted part of what it received. */
  taintedReceived: bigint
  /** taintedReceived / received, 0..1. */
  fraction: number
  /** The target's balance and its tainted part after the last transfer (what it holds, as far as the data shows). */
  balance: bigint
  taintedBalance: bigint
  /**
   * Value sent beyond what the data shows was received, treated as clean (pre-existing balance),
   * by the region's addresses on the way to the target (sends up to each one's bound): in all, and
   * per address (largest first).
   */
  unexplained: bigint
  unexplainedBy: { address: string; amount: bigint }[]
  /** The transfers that brought the target the most taint, each traced back to a seed by the largest earlier tainted receipt (from the seed to the target). */
  topPaths: { tainted: bigint; steps: TaintStep[] }[]
}

const KIND_ORDER: Record<TransferKind, number> = { tx: 0, trace: 1, log: 2 }

export function compareChainOrder(a: TaintTransfer, b: TaintTransfer): number {
  return a.position - b.position || KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.subIndex - b.subIndex || cmp(a.txHash, b.txHash) || cmp(a.from, b.from) || cmp(a.to, b.to) || (a.amount < b.amount ? -1 : a.amount > b.amount ? 1 : 0)
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function identity(t: TaintTransfer): string {
  return `${t.txHash}/${t.kind}/${t.subIndex}/${t.from}/${t.to}/${t.asset}/${t.position}/${t.amount}`
}

interface Account {
  balance: bigint
  tainted: bigint
  /** Tainted receipts in order: for tracing contributing paths back. */
  receipts: { index: number; tainted: bigint }[]
}

/** Replays every asset; answers the target's taint per asset (assets it received or sent). */
export function replayTaint(input: TaintInput, topPaths = 3): Map<string, AssetTaint> {
  const unique = new Map<string, TaintTransfer>()
  const counting: TaintTransfer[] = []
  for (const t of input.transfers) {
    const floor = input.dust[t.asset]
    if (t.amount <= 0n || (floor !== undefined && t.amount < floor)) continue
    if (input.distinct) counting.push(t)
    else unique.set(identity(t), t)
  }
  const byAsset = new Map<string, TaintTransfer[]>()
  for (const t of input.distinct ? counting : unique.values()) {
    const list = byAsset.get(t.asset)
    if (list) list.push(t)
    else byAsset.set(t.asset, [t])
  }
  const out = new Map<string, AssetTaint>()
  for (const [asset, transfers] of byAsset) {
    transfers.sort(compareChainOrder)
    const result = replayAsset(asset, transfers, input, topPaths)
    if (result !== null) out.set(asset, result)
  }
  return out
}

function replayAsset(asset: string, transfers: readonly TaintTransfer[], input: TaintInput, topPaths: number): AssetTaint | null {
  const accounts = new Map<string, Account>()
  const account = (address: string) => {
    let a = accounts.get(address)
    if (!a) accounts.set(address, (a = { balance: 0n, tainted: 0n, receipts: [] }))
    return a
  }
  const carried: bigint[] = new Array(transfers.length).fill(0n)
  const unexplained = new Map<string, bigint>()
  let received = 0n
  let taintedReceived = 0n
  let touched = false
  transfers.forEach((t, index) => {
    let taint = 0n
    if (input.seeds.has(t.from)) taint = t.amount
    else if (input.region.has(t.from)) {
      const sender = account(t.from)
      if (sender.balance >= t.amount) {
        taint = sender.balance === 0n ? 0n : (t.amount * sender.tainted) / sender.balance
        sender.balance -= t.amount
        sender.tainted -= taint
      } else {
        if (t.position <= input.region.get(t.from)!) unexplained.set(t.from, (unexplained.get(t.from) ?? 0n) + (t.amount - sender.balance))
        taint = sender.tainted
        sender.balance = 0n
        sender.tainted = 0n
      }
    }
    carried[index] = taint
    if (input.region.has(t.to) && !input.seeds.has(t.to)) {
      const recipient = account(t.to)
      recipient.balance += t.amount
      recipient.tainted += taint
      if (taint > 0n) recipient.receipts.push({ index, tainted: taint })
    }
    if (t.to === input.target) {
      received += t.amount
      taintedReceived += taint
      touched = true
    }
    if (t.from === input.target) touched = true
  })
  if (!touched) return null
  const target = accounts.get(input.target) ?? { balance: 0n, tainted: 0n, receipts: [] }
  const unexplainedBy = [...unexplained].map(([address, amount]) => ({ address, amount })).sort((a, b) => (b.amount > a.amount ? 1 : b.amount < a.amount ? -1 : 0))
  return {
    asset,
    received,
    taintedReceived,
    fraction: received === 0n ? 0 : Number((taintedReceived * 1_000_000n) / received) / 1_000_000,
    balance: target.balance,
    taintedBalance: target.tainted,
    unexplained: unexplainedBy.reduce((sum, u) => sum + u.amount, 0n),
    unexplainedBy,
    topPaths: contributingPaths(transfers, carried, accounts, input, topPaths),
  }
}

/** The target's largest tainted receipts, each traced back by the largest earlier tainted receipt of its sender. */
function contributingPaths(transfers: readonly TaintTransfer[], carried: readonly bigint[], accounts: ReadonlyMap<string, Account>, input: TaintInput, count: number): { tainted: bigint; steps: TaintStep[] }[] {
  const target = accounts.get(input.target)
  if (!target) return []
  const top = [...target.receipts].sort((a, b) => (b.tainted > a.tainted ? 1 : b.tainted < a.tainted ? -1 : a.index - b.index)).slice(0, count)
  return top.map(({ index, tainted }) => {
    const steps: TaintStep[] = []
    let at = index
    for (let guard = 0; guard < 64; guard++) {
      const t = transfers[at]!
      steps.push({ transfer: t, tainted: carried[at]! })
      if (input.seeds.has(t.from)) break
      const before = (accounts.get(t.from)?.receipts ?? []).filter((r) => r.index < at)
      if (before.length === 0) break
      at = before.reduce((best, r) => (r.tainted > best.tainted ? r : best)).index
    }
    return { tainted, steps: steps.reverse() }
  })
}
