import { InputError } from '../errors.ts'
import type { RiskLevel } from '../types.ts'

/**
 * The risk policy, in one place. An address's risk comes from the *nearer* of its two exposures
 * (downstream: it received funds that trace back to a seed; upstream: its funds reached a seed):
 * `hops = min(downstream.hops, upstream.hops)`, then the first level whose `maxHops` is ≥ hops.
 * Default: seed (0) → severe, 1 → high, 2–3 → medium, 4+ → low, no path → none.
 */
export type RiskPolicy = readonly { level: Exclude<RiskLevel, 'none'>; maxHops: number }[]

export const DEFAULT_RISK_POLICY: RiskPolicy = Object.freeze([
  { level: 'severe', maxHops: 0 },
  { level: 'high', maxHops: 1 },
  { level: 'medium', maxHops: 3 },
  { level: 'low', maxHops: Number.POSITIVE_INFINITY },
])

const LEVELS = ['severe', 'high', 'medium', 'low'] as const

/** `severe=0,high=1,medium=3,low=inf` → policy. Levels in order of severity, hops increasing. */
export function parseRiskPolicy(text: string): RiskPolicy {
  const policy: { level: Exclude<RiskLevel, 'none'>; maxHops: number }[] = []
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^(severe|high|medium|low)=(\d+|inf)$/.exec(part)
    if (!match) throw new InputError('INVALID_CONFIG', `invalid risk policy entry ${JSON.stringify(part)}: expected LEVEL=MAXHOPS (LEVEL severe|high|medium|low, MAXHOPS a number or inf)`, { field: 'riskPolicy', value: part })
    policy.push({ level: match[1] as (typeof LEVELS)[number], maxHops: match[2] === 'inf' ? Number.POSITIVE_INFINITY : Number(match[2]) })
  }
  for (let i = 1; i < policy.length; i++) {
    const previous = policy[i - 1]!
    const current = policy[i]!
    if (LEVELS.indexOf(current.level) <= LEVELS.indexOf(previous.level) || current.maxHops <= previous.maxHops) {
      throw new InputError('INVALID_CONFIG', `risk policy must list levels from severe to low with increasing hops: ${JSON.stringify(text)}`, { field: 'riskPolicy', value: text })
    }
  }
  return Object.freeze(policy)
}

export function riskOf(policy: RiskPolicy, downstreamHops: number | null, upstreamHops: number | null): RiskLevel {
  const hops = Math.min(downstreamHops ?? Number.POSITIVE_INFINITY, upstreamHops ?? Number.POSITIVE_INFINITY)
  if (!Number.isFinite(hops)) return 'none'
  for (const rule of policy) if (hops <= rule.maxHops) return rule.level
  return 'none'
}
