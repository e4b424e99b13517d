/**
 * Changes to a seed set, computed without Redis (store/seed-versions.ts applies them).
 *
 * A stored seed is the merge (merge.ts) of its provenances; every change works on provenances:
 * - **import** adds the file's provenances to the addresses' existing ones (one seed per address,
 *   several provenances when sources agree). With `replace`, every stored provenance *in the
 *   file's scope* is dropped first, so that the file's version of its sources replaces the old one.
 * - **scope** of a file: the source families of the provenances it holds (see {@link sourceFamily}:
 *   "OFAC SDN sdn_advanced.xml" for every OFAC publication date and profile, an incident list's
 *   repository path without its commit, otherwise the `source` text as it is), optionally narrowed
 *   by a predicate (the SDN `--name`/`--program` filters).
 * - **remove** drops provenances by address or by source; a seed whose last provenance goes leaves
 *   the set.
 *
 * "Removed" always means: the address leaves the seed set (it had no provenance outside what was
 * dropped). An address that loses a provenance but keeps another is "updated".
 */
import type { Address, Seed, SeedSetPlan } from '../types.ts'
import { mergeSeeds, provenancesOf } from './merge.ts'

/** OFAC source text: `OFAC SDN sdn_advanced.xml <date>, profile <id>` (ofac-sdn.ts). */
const SDN_SOURCE = /^(OFAC SDN sdn_advanced\.xml) \d{4}-\d{2}-\d{2}, profile \d+$/
/** A repository path pinned to a commit: `owner/repo/path@<40 hex>`. */
const PINNED = /^(.+)@[0-9a-f]{7,40}$/

/**
 * The family of a provenance's source: what stays the same when the publisher issues a new
 * version of the document. Two provenances of one family are the same list at different dates.
 */
export function sourceFamily(source: string): string {
  const sdn = SDN_SOURCE.exec(source)
  if (sdn?.[1] !== undefined) return sdn[1]
  const pinned = PINNED.exec(source)
  if (pinned?.[1] !== undefined) return pinned[1]
  return source
}

/** The source families of some seeds' provenances, sorted. */
export function familiesOf(seeds: readonly Seed[]): string[] {
  return [...new Set(seeds.flatMap((s) => provenancesOf(s).map((p) => sourceFamily(p.source))))].sort()
}

/** A predicate over provenances: in the scope of a file with these families (and the filter). */
export function fileScope(families: readonly string[], narrow?: (provenance: Seed) => boolean): (provenance: Seed) => boolean {
  const set = new Set(families)
  return (p) => set.has(sourceFamily(p.source)) && (narrow === undefined || narrow(p))
}

/** True when `provenance`'s source equals `source` or begins with it (`--source "OFAC SDN"`). */
export function matchesSource(provenance: Seed, source: string): boolean {
  return provenance.source === source || provenance.source.startsWith(source)
}

function same(a: Seed | undefined, b: Seed | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/**
 * What importing `incoming` into `current` changes. With `replace`, stored provenances in `scope`
 * are dropped first (on every address, also those the file does not name).
 */
export function planImport(
  current: ReadonlyMap<Address, Seed>,
  incoming: readonly Seed[],
  options: { replace?: boolean; scope?: (provenance: Seed) => boolean } = {},
): SeedSetPlan {
  const byAddress = new Map<Address, Seed[]>()
  for (const seed of incoming) {
    const address = seed.address.toLowerCase() as Address
    const list = byAddress.get(address) ?? []
    list.push(...provenancesOf({ ...seed, address }))
    byAddress.set(address, list)
  }
  const touched = new Set<Address>(byAddress.keys())
  const scope = options.replace === true ? options.scope : undefined
  if (scope !== undefined) {
    for (const [address, seed] of current) if (provenancesOf(seed).some(scope)) touched.add(address)
  }
  const plan: SeedSetPlan = { put: [], remove: [], added: [], updated: [], unchanged: 0 }
  for (const address of [...touched].sort()) {
    const before = current.get(address)
    const kept = before === undefined ? [] : provenancesOf(before).filter((p) => scope === undefined || !scope(p))
    const provenances = [...kept, ...(byAddress.get(address) ?? [])]
    const after = provenances.length === 0 ? undefined : mergeSeeds(provenances)[0]
    if (same(before, after)) {
      if (byAddress.has(address)) plan.unchanged += 1
      continue
    }
    if (after === undefined) {
      plan.remove.push(address)
      continue
    }
    plan.put.push(after)
    if (before === undefined) plan.added.push(address)
    else plan.updated.push(address)
  }
  return plan
}

/**
 * What removing seeds changes: every provenance of the named addresses, or every provenance whose
 * source matches `source` ({@link matchesSource}). Addresses not in the set are reported in `unknown`.
 */
export function planRemove(
  current: ReadonlyMap<Address, Seed>,
  target: { addresses?: readonly Address[]; source?: string },
): SeedSetPlan & { unknown: Address[] } {
  const plan: SeedSetPlan & { unknown: Address[] } = { put: [], remove: [], added: [], updated: [], unchanged: 0, unknown: [] }
  const addresses = new Set(target.addresses ?? [])
  for (const address of [...addresses].sort()) if (!current.has(address)) plan.unknown.push(address)
  for (const [address, seed] of [...current].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const provenances = provenancesOf(seed)
    const kept = provenances.filter((p) => !addresses.has(address) && (target.source === undefined || !matchesSource(p, target.source)))
    if (kept.length === provenances.length) continue
    if (kept.length === 0) {
      plan.remove.push(address)
      continue
    }
    plan.put.push(mergeSeeds(kept)[0]!)
    plan.updated.push(address)
  }
  return plan
}
