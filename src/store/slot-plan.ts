import slotOf from 'cluster-key-slot'
import { PARTITIONS, partitionTag } from './partitions.ts'

/**
 * How a store's partition tags fall on a Redis Cluster's masters. Each tag is one hash slot, so a
 * master holds the partitions whose slots it serves, and a master has to be sized for its share.
 * `redis-cli --cluster create` gives every master an equal range of the 16,384 slots, which
 * splits 256 tags unevenly once there are many masters (at 29, the busiest holds 14 of them, 1.59×
 * the mean); `rangesSplittingTags` plans ranges that split them evenly, for a cluster whose slots
 * are assigned by hand (CLUSTER ADDSLOTSRANGE) before anything is imported.
 */
export const CLUSTER_SLOTS = 16_384

/** A master's slots, first to last inclusive. */
export type SlotRange = readonly [first: number, last: number]

/** The slots of a store's partition tags, sorted (two tags may share a slot). */
export function partitionTagSlots(prefix: string): number[] {
  return Array.from({ length: PARTITIONS }, (_, p) => slotOf(`${partitionTag(prefix, p)}:x`)).sort((a, b) => a - b)
}

/** The ranges `redis-cli --cluster create` gives `masters` masters (its equal split, as it rounds it). */
export function equalSlotRanges(masters: number): SlotRange[] {
  assertMasters(masters)
  const perMaster = CLUSTER_SLOTS / masters
  const ranges: SlotRange[] = []
  let first = 0
  let cursor = 0
  for (let i = 0; i < masters; i++) {
    let last = Math.round(cursor + perMaster - 1)
    // As redis-cli.c has it (clusterManagerCommandCreate), its bound included.
    if (last > CLUSTER_SLOTS || i === masters - 1) last = CLUSTER_SLOTS - 1
    if (last < first) last = first
    ranges.push([first, last])
    first = last + 1
    cursor += perMaster
  }
  return ranges
}

/** How many of `slots` (sorted) each range holds. */
export function tagsPerRange(slots: readonly number[], ranges: readonly SlotRange[]): number[] {
  return ranges.map(([first, last]) => slots.filter((s) => s >= first && s <= last).length)
}

/**
 * Contiguous ranges covering every slot, one per master, each holding ⌊n/m⌋ or ⌈n/m⌉ of the `n`
 * tag slots (one more where two tags share the slot at a cut, which no range can split).
 */
export function rangesSplittingTags(slots: readonly number[], masters: number): SlotRange[] {
  assertMasters(masters)
  if (masters > slots.length) throw new RangeError(`${masters} masters for ${slots.length} partition tags: some masters would hold no partition`)
  const ranges: SlotRange[] = []
  const base = Math.floor(slots.length / masters)
  const extra = slots.length % masters
  let first = 0
  let taken = 0
  for (let i = 0; i < masters - 1; i++) {
    taken += base + (i < extra ? 1 : 0)
    // A cut lies between two tags' slots; tags sharing the slot at the cut stay together.
    while (taken < slots.length && slots[taken] === slots[taken - 1]) taken++
    if (taken >= slots.length) throw new RangeError(`${slots.length} partition tags cannot be split over ${masters} masters: shared slots leave some without any`)
    const last = slots[taken - 1]!
    ranges.push([first, last])
    first = last + 1
  }
  ranges.push([first, CLUSTER_SLOTS - 1])
  return ranges
}

function assertMasters(masters: number): void {
  if (!Number.isInteger(masters) || masters < 1 || masters > CLUSTER_SLOTS) throw new RangeError(`masters must be an integer from 1 to ${CLUSTER_SLOTS}, got ${masters}`)
}
