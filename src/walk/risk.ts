import { InputError } from '../errors.ts'
import { LISTED_TOKENS } from '../sources/assets.ts'
import type { Address, RiskLevel } from '../types.ts'
import { share as shareOf, type AssetValue } from './value.ts'

/**
 * The risk policy, in one place. It combines how close an address sits to a seed with how much
 * of its value came from (or went to) the seeds' region:
 *
 * 1. Hops. Each direction gives a level by its hops: the first level whose `maxHops` is ≥ hops
 *    (default: a seed (0) severe, 1 high, 2–3 medium, 4+ low, no path none).
 * 2. Materiality of downstream exposure. A wallet's downstream exposure that is below every
 *    threshold — for every asset, exposed value < `minValue[asset]` and exposed share < `minShare` —
 *    and that it never moved on (it sent nothing at or after the first exposed arrival) counts at
 *    most `low`: an unsolicited deposit it did not use. Upstream exposure (its own funds reached the
 *    adversary) is never discounted, and a seed is always severe.
 * 3. The risk is the more severe of the two directions; the reason names the deciding direction,
 *    its seed, and its share and value.
 *
 * EXPOSURE_RISK_POLICY: `severe=0,high=1,medium=3,low=inf;share=5%;value=ETH:300000000000000000,0x…:…`
 * (any section may be left out; a `value` list replaces the default thresholds).
 */
export interface RiskPolicy {
  levels: readonly { level: Exclude<RiskLevel, 'none'>; maxHops: number }[]
  /** Share of an asset's received value, 0..1, from which downstream exposure is material. */
  minShare: number
  /** Exposed value per asset ('ETH' or token address, base units) from which it is material. */
  minValue: Readonly<Record<string, bigint>>
}

/** About 1,000 USD of each default asset (prices as in walk/dust.ts: ETH ≈ 3,300 USD, BTC ≈ 100,000 USD). */
export const DEFAULT_MIN_VALUE: Readonly<Record<'ETH' | Address, bigint>> = Object.freeze({
  ETH: 300_000_000_000_000_000n,
  '0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2': 300_000_000_000_000_000n,
  '0xae7ab96520de3a18e5e111b5eaab095312d7fe84': 300_000_000_000_000_000n,
  '0xdac17f958d2ee523a2206206994597c13d831ec7': 1_000_000_000n,
  '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48': 1_000_000_000n,
  '0x6b175474e89094c44da98b954eedeac495271d0f': 1_000_000_000_000_000_000_000n,
  '0x2260fac5e5542a773aa44fbcfedf7c193bc2c599': 1_000_000n,
})

export const DEFAULT_RISK_POLICY: RiskPolicy = Object.freeze({
  levels: Object.freeze([
    { level: 'severe', maxHops: 0 },
    { level: 'high', maxHops: 1 },
    { level: 'medium', maxHops: 3 },
    { level: 'low', maxHops: Number.POSITIVE_INFINITY },
  ] as const),
  minShare: 0.05,
  minValue: DEFAULT_MIN_VALUE,
})

const LEVELS = ['severe', 'high', 'medium', 'low'] as const
const SEVERITY: Record<RiskLevel, number> = { severe: 4, high: 3, medium: 2, low: 1, none: 0 }

/** `severe=0,high=1,medium=3,low=inf;share=5%;value=ETH:300000000000000000,…` → policy (sections optional). */
export function parseRiskPolicy(text: string): RiskPolicy {
  let levels = DEFAULT_RISK_POLICY.levels
  let minShare = DEFAULT_RISK_POLICY.minShare
  let minValue = DEFAULT_RISK_POLICY.minValue
  for (const section of text.split(';').map((s) => s.trim()).filter(Boolean)) {
    if (section.startsWith('share=')) minShare = parseShare(section.slice(6), text)
    else if (section.startsWith('value=')) minValue = parseValues(section.slice(6), text)
    else levels = parseLevels(section, text)
  }
  return Object.freeze({ levels, minShare, minValue })
}

function parseLevels(section: string, text: string): RiskPolicy['levels'] {
  const levels: { level: Exclude<RiskLevel, 'none'>; maxHops: number }[] = []
  for (const part of section.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^(severe|high|medium|low)=(\d+|inf)$/.exec(part)
    if (!match) throw new InputError('INVALID_CONFIG', `invalid risk policy entry ${JSON.stringify(part)}: expected LEVEL=MAXHOPS (LEVEL severe|high|medium|low, MAXHOPS a number or inf), share=N% or value=ASSET:AMOUNT,…`, { field: 'riskPolicy', value: part })
    levels.push({ level: match[1] as (typeof LEVELS)[number], maxHops: match[2] === 'inf' ? Number.POSITIVE_INFINITY : Number(match[2]) })
  }
  for (let i = 1; i < levels.length; i++) {
    if (LEVELS.indexOf(levels[i]!.level) <= LEVELS.indexOf(levels[i - 1]!.level) || levels[i]!.maxHops <= levels[i - 1]!.maxHops) {
      throw new InputError('INVALID_CONFIG', `risk policy must list levels from severe to low with increasing hops: ${JSON.stringify(text)}`, { field: 'riskPolicy', value: text })
    }
  }
  return Object.freeze(levels)
}

function parseShare(value: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(%?)$/.exec(value)
  const share = match ? Number(match[1]) / (match[2] === '%' ? 100 : 1) : Number.NaN
  if (!(share >= 0 && share <= 1)) throw new InputError('INVALID_CONFIG', `risk policy share must be a fraction from 0 to 1 or a percentage (share=5%): ${JSON.stringify(value)} in ${JSON.stringify(text)}`, { field: 'riskPolicy', value })
  return share
}

function parseValues(value: string, text: string): Record<string, bigint> {
  const out: Record<string, bigint> = {}
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^(ETH|0x[0-9a-fA-F]{40}):(\d+)$/.exec(part)
    if (!match) throw new InputError('INVALID_CONFIG', `risk policy value thresholds are ASSET:AMOUNT in base units (ETH or a token address): ${JSON.stringify(part)} in ${JSON.stringify(text)}`, { field: 'riskPolicy', value: part })
    out[match[1] === 'ETH' ? 'ETH' : match[1]!.toLowerCase()] = BigInt(match[2]!)
  }
  return Object.freeze(out)
}

/** The level of one direction's hops (null: no path). */
export function levelOf(policy: RiskPolicy, hops: number | null): RiskLevel {
  if (hops === null) return 'none'
  for (const rule of policy.levels) if (hops <= rule.maxHops) return rule.level
  return 'none'
}

/** Risk from hops alone: the nearer of the two exposures (answers without value, e.g. older callers). */
export function riskOf(policy: RiskPolicy, downstreamHops: number | null, upstreamHops: number | null): RiskLevel {
  const d = levelOf(policy, downstreamHops)
  const u = levelOf(policy, upstreamHops)
  return SEVERITY[d] >= SEVERITY[u] ? d : u
}

/** One direction as the assessment sees it. */
export interface DirectionEvidence {
  hops: number
  /** The seed's label and source, for the reason. */
  seedLabel: string
  seedSource: string
  /** Exposed value per asset (asset name → value), when known. */
  value?: ReadonlyMap<string, AssetValue>
}

export interface RiskAssessment {
  risk: RiskLevel
  /** One sentence a compliance officer can read: the deciding direction, its seed, share and value. */
  reason: string
  /** Whether downstream exposure passed the materiality thresholds (null: no downstream exposure or no value known). */
  material: boolean | null
}

/**
 * Combines both directions under the policy (see the module comment). `lastSent`: the position of
 * the address's last outgoing transfer (null: none), to tell whether exposed funds moved on.
 */
export function assessRisk(policy: RiskPolicy, downstream: DirectionEvidence | null, upstream: DirectionEvidence | null, lastSent: number | null): RiskAssessment {
  const up = upstream === null ? 'none' : levelOf(policy, upstream.hops)
  let down = downstream === null ? 'none' : levelOf(policy, downstream.hops)
  let material: boolean | null = null
  let capped = false
  if (downstream !== null && downstream.value !== undefined && downstream.hops > 0) {
    const firstExposed = minPosition([...downstream.value.values()].map((v) => v.firstExposed))
    const movedOn = firstExposed !== null && lastSent !== null && lastSent >= firstExposed
    material = movedOn || [...downstream.value].some(([asset, v]) => v.exposed > 0n && ((policy.minValue[asset] !== undefined && v.exposed >= policy.minValue[asset]!) || shareOf(v.exposed, v.total) >= policy.minShare))
    if (!material && SEVERITY[down] > SEVERITY.low) {
      down = 'low'
      capped = true
    }
  }
  const risk: RiskLevel = SEVERITY[down] >= SEVERITY[up] ? down : up
  return { risk, reason: reasonFor(policy, risk, down, up, downstream, upstream, capped), material }
}

function reasonFor(policy: RiskPolicy, risk: RiskLevel, down: RiskLevel, up: RiskLevel, downstream: DirectionEvidence | null, upstream: DirectionEvidence | null, capped: boolean): string {
  if (risk === 'none') return 'no time-respecting path to or from a seed within the walk\'s hops'
  const seed = (e: DirectionEvidence) => `${e.seedLabel}${e.seedSource ? ` (${e.seedSource})` : ''}`
  const hops = (n: number) => `${n} hop${n === 1 ? '' : 's'}`
  if ((downstream?.hops ?? 1) === 0 || (upstream?.hops ?? 1) === 0) return `a seed: ${seed((downstream?.hops === 0 ? downstream : upstream)!)}`
  const fromDownstream = SEVERITY[down] >= SEVERITY[up] && downstream !== null
  if (fromDownstream) {
    const value = describeValue(downstream.value, 'received')
    if (capped) {
      return `${hops(downstream.hops)} downstream from ${seed(downstream)}, but only ${value ?? 'a small part of its funds'}: below the ${formatShare(policy.minShare)} and value thresholds, and none of it moved on, so at most low`
    }
    return `${hops(downstream.hops)} downstream from ${seed(downstream)}${value ? `: ${value}` : ''}`
  }
  const value = describeValue(upstream!.value, 'sent')
  return `${hops(upstream!.hops)} upstream: its funds reached ${seed(upstream!)}${value ? `: ${value}` : ''}`
}

/** "98.2 % of received ETH (4,012.5 ETH)" for the asset with the largest exposed share. */
function describeValue(value: ReadonlyMap<string, AssetValue> | undefined, verb: string): string | null {
  if (value === undefined) return null
  const best = dominant(value)
  if (best === null) return null
  const [asset, v] = best
  return `${formatShare(shareOf(v.exposed, v.total))} of ${verb} ${symbolOf(asset)} (${formatUnits(v.exposed, asset)} ${symbolOf(asset)})`
}

function dominant(value: ReadonlyMap<string, AssetValue>): [string, AssetValue] | null {
  let best: [string, AssetValue] | null = null
  for (const entry of value) {
    if (entry[1].exposed === 0n) continue
    if (best === null || shareOf(entry[1].exposed, entry[1].total) > shareOf(best[1].exposed, best[1].total)) best = entry
  }
  return best
}

function minPosition(values: readonly (number | null)[]): number | null {
  let min: number | null = null
  for (const v of values) if (v !== null && (min === null || v < min)) min = v
  return min
}

export function formatShare(share: number): string {
  return `${(share * 100).toFixed(share >= 0.1 ? 1 : share >= 0.001 ? 2 : 4).replace(/\.?0+$/, '')} %`
}

const TOKENS = new Map(LISTED_TOKENS.map((t) => [t.address as string, t]))

export function symbolOf(asset: string): string {
  return asset === 'ETH' ? 'ETH' : (TOKENS.get(asset.toLowerCase())?.symbol ?? asset)
}

/** Base units in whole units of the asset (ETH 18 decimals, listed tokens theirs; others as base units). */
export function formatUnits(amount: bigint, asset: string): string {
  const decimals = asset === 'ETH' ? 18 : TOKENS.get(asset.toLowerCase())?.decimals
  if (decimals === undefined) return amount.toString()
  const scale = 10n ** BigInt(decimals)
  const whole = amount / scale
  const fraction = (amount % scale).toString().padStart(decimals, '0').slice(0, 4).replace(/0+$/, '')
  return `${whole.toLocaleString('en-US')}${fraction ? `.${fraction}` : ''}`
}
