/**
 * Terminology (see DESIGN.md; these words mean exactly this everywhere in the code):
 *
 * - **seed**: an address attributed to the adversary, with provenance. Hop 0.
 * - **transfer**: value that moved from one address to another and *counts* under DESIGN.md's
 *   rules: a successful external transaction with value, a successful `call` trace with value
 *   below the top level, or a `Transfer` log of a listed asset with value.
 * - **position**: `(blockNumber, transactionIndex)`: where a transfer sits in chain order.
 *   Transfers of one transaction share a position. Encoded as one integer
 *   `blockNumber * 2^16 + transactionIndex` (< 2^48, exact in a double).
 * - **direction**: `downstream` (funds from a seed reached W) or `upstream` (funds from W reached a
 *   seed).
 * - **hop label**: one non-dominated `(hops, time)` pair of an address in one direction, with the
 *   predecessor and the transfer that produced it (so the witness path can be rebuilt).
 * - **stop node**: a service (label category in the stop list) or an address with more distinct
 *   counterparties than the cap: it can be reached, but exposure does not pass through it.
 *
 * Addresses are lowercase `0x`-prefixed hex inside the library and the store; EIP-55 at the edges.
 * Amounts are `bigint` base units, never `number`.
 */

/** Lowercase, 0x-prefixed, 40 hex digits. */
export type Address = `0x${string}`

/** Where a transfer came from in the chain's data model. */
export type TransferKind = 'tx' | 'trace' | 'log'

/** The symbolic name of native ether in paths and asset lists. */
export const ETH = 'ETH' as const

/** `'ETH'` or a listed token's lowercase contract address. */
export type Asset = typeof ETH | Address

/** A transfer that counts (already filtered by the counting rules). */
export interface Transfer {
  from: Address
  to: Address
  /** Amount in base units (wei, token units). */
  amount: bigint
  asset: Asset
  blockNumber: number
  transactionIndex: number
  /** 0x-prefixed 32-byte transaction hash, lowercase. */
  txHash: `0x${string}`
  kind: TransferKind
  /**
   * Distinguishes transfers of one transaction: 0 for the external transaction, the log index for
   * a token log, a stable number derived from the trace address for an internal call.
   */
  subIndex: number
  /** Block timestamp (seconds), when the source knows it. */
  timestamp?: number
}

export type Direction = 'downstream' | 'upstream'
export const DIRECTIONS: readonly Direction[] = ['downstream', 'upstream']

/** Provenance of a seed: where the attribution comes from. */
export interface Seed {
  address: Address
  label: string
  /** Document, URL, or file (+ id) the attribution comes from. */
  source: string
  /** Extra provenance columns kept verbatim (incident, date listed, confidence, actor, …). */
  extra?: Record<string, string>
}

/** What a seed set change does (src/seeds/seed-set.ts plans it, the store applies it). */
export interface SeedSetPlan {
  /** Seeds to write (new or changed), merged. */
  put: Seed[]
  /** Addresses that leave the seed set. */
  remove: Address[]
  /** Addresses new to the seed set. */
  added: Address[]
  /** Addresses already in the set whose provenance changes. */
  updated: Address[]
  /** Addresses of the input that were already there with the same provenance. */
  unchanged: number
}

/** A service label: decides stop nodes by its category. */
export interface ServiceLabel {
  address: Address
  label: string
  category: string
  source?: string
}

/** One step of a witness path, as answered to users (addresses EIP-55, amount decimal string). */
export interface PathStep {
  from: string
  to: string
  txHash: string
  blockNumber: number
  transactionIndex: number
  asset: string
  amount: string
  timestamp?: number
}

export interface DirectionalExposure {
  hops: number
  seed: string
  path: PathStep[]
}

export type RiskLevel = 'severe' | 'high' | 'medium' | 'low' | 'none'

export interface ExposureResult {
  address: string
  risk: RiskLevel
  downstream: DirectionalExposure | null
  upstream: DirectionalExposure | null
}
