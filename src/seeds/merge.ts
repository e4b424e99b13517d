/**
 * Merging seeds that name the same address.
 *
 * How provenance is combined (one seed per address, in order of first appearance):
 * - `extra.sources`: JSON array of every distinct provenance, in input order, each
 *   `{label, source, ...extra}` exactly as it was read. Present only when there are two or more;
 *   {@link provenancesOf} answers the list either way. Merging merged seeds again flattens their
 *   `sources` (it never nests), so the operation is associative and idempotent.
 * - `label`, `extra.confidenceKind`: from the provenance with the highest `extra.confidence`
 *   (first one on a tie).
 * - `source`: the distinct sources joined by ` | `.
 * - `extra.confidence`: the highest; `extra.listed`: the earliest date.
 * - every other `extra` key (actor, incident, program, role, …): the distinct values joined by
 *   `;` (values that already hold `;`-lists, like OFAC programs, are split first).
 */
import type { Seed } from '../types.ts'

/** Separator of `source` in a merged seed. */
export const SOURCE_SEPARATOR = ' | '

type Provenance = { label: string; source: string; extra: Record<string, string> }

/** The provenances of a (possibly merged) seed, each as a single-source seed. */
export function provenancesOf(seed: Seed): Seed[] {
  return provenances(seed).map((p) => ({ address: seed.address, label: p.label, source: p.source, extra: { ...p.extra } }))
}

/** One seed per address; see the module comment for how provenance is combined. */
export function mergeSeeds(seeds: Seed[]): Seed[] {
  const groups = new Map<string, { address: Seed['address']; items: Provenance[]; keys: Set<string> }>()
  for (const seed of seeds) {
    const address = seed.address.toLowerCase() as Seed['address']
    let group = groups.get(address)
    if (group === undefined) {
      group = { address, items: [], keys: new Set() }
      groups.set(address, group)
    }
    for (const p of provenances(seed)) {
      const key = JSON.stringify(flatten(p))
      if (group.keys.has(key)) continue
      group.keys.add(key)
      group.items.push(p)
    }
  }
  return [...groups.values()].map(({ address, items }) => combine(address, items))
}

function combine(address: Seed['address'], items: Provenance[]): Seed {
  const [first] = items
  if (first === undefined) throw new Error('unreachable: empty seed group')
  if (items.length === 1) {
    const seed: Seed = { address, label: first.label, source: first.source }
    if (Object.keys(first.extra).length > 0) seed.extra = { ...first.extra }
    return seed
  }
  let best = first
  for (const item of items) if (confidence(item) > confidence(best)) best = item
  const extra: Record<string, string> = {}
  const keys = unique(items.flatMap((item) => Object.keys(item.extra)))
  for (const key of keys) {
    const values = items.map((item) => item.extra[key]).filter((v): v is string => v !== undefined && v !== '')
    if (values.length === 0) continue
    if (key === 'confidence') extra.confidence = String(Math.max(...values.map(Number).filter(Number.isFinite)))
    else if (key === 'confidenceKind') extra.confidenceKind = best.extra.confidenceKind ?? values[0] ?? ''
    else if (key === 'listed') extra.listed = [...values].sort()[0] ?? ''
    else extra[key] = unique(values.flatMap((v) => v.split(';'))).join(';')
  }
  if (extra.confidence === '-Infinity') delete extra.confidence
  extra.sources = JSON.stringify(items.map(flatten))
  return { address, label: best.label, source: unique(items.map((item) => item.source)).join(SOURCE_SEPARATOR), extra }
}

function provenances(seed: Seed): Provenance[] {
  const raw = seed.extra?.sources
  if (raw !== undefined) {
    const parsed = parseSources(raw)
    if (parsed !== undefined) return parsed
  }
  return [{ label: seed.label, source: seed.source, extra: { ...(seed.extra ?? {}) } }]
}

function parseSources(raw: string): Provenance[] | undefined {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (!Array.isArray(value) || value.length === 0) return undefined
  const out: Provenance[] = []
  for (const item of value) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return undefined
    const { label, source, ...rest } = item as Record<string, unknown>
    if (typeof label !== 'string' || typeof source !== 'string') return undefined
    const extra: Record<string, string> = {}
    for (const [key, v] of Object.entries(rest)) if (typeof v === 'string') extra[key] = v
    out.push({ label, source, extra })
  }
  return out
}

function flatten(p: Provenance): Record<string, string> {
  const { sources: _nested, ...extra } = p.extra
  return { label: p.label, source: p.source, ...extra }
}

function confidence(p: Provenance): number {
  const value = Number(p.extra.confidence)
  return Number.isFinite(value) ? value : -1
}

function unique(values: string[]): string[] {
  return [...new Set(values)]
}
