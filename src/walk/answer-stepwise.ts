/**
 * answer.lua, client-side, for a Redis Cluster.
 *
 * On one server answer.lua reads the published walk's basis and follows the witness path in one
 * atomic call. With the partitioned layout (keys.ts) the path's label and node keys lie under the
 * partition tags of the addresses it passes, i.e. on any master of a cluster, and a script may only
 * touch keys of its own slot. So on a cluster the same walk is done here step by step, each step's
 * reads in one slot: the address's labels (its partition), the out-records at one position of the
 * node holding the transfer (lua/out-at.lua, that node's partition), the block time and the seed
 * (the prefix's tag). A step's reads go out at once (the next address's labels are known before
 * the transfer's records are), and both directions walk at once: one round trip per hop. Atomicity is replaced by a consistency check: the basis and the store's
 * versions are read (in one slot, one MULTI) before and after the walk; when a publish or a
 * commit happened in between, the walk is done again. The reply has answer.lua's shape exactly
 * (check.ts reads both alike), and the choices (fewest hops within the cost limit, the label's
 * record first, then any counted record of the position) are answer.lua's.
 */
import { BaseError } from '../errors.ts'
import type { StoreKeys } from '../store/keys.ts'
import type { Redis } from '../store/redis.ts'
import { blockOf } from '../store/records.ts'
import { callScriptBuffer } from '../store/scripts.ts'

const HOPS_LIMIT = 64
const ATTEMPTS = 5

type Step = Buffer | number | string | null
/** answer.lua's reply: current (flat), versions, downstream, upstream. */
export type AnswerReply = [Buffer[], Buffer[], Step[] | Buffer, Step[] | Buffer]

/** answer.lua's reply for `hex`, read step by step (see the module comment). */
export async function answerStepwise(redis: Redis, keys: StoreKeys, hex: string): Promise<AnswerReply> {
  for (let attempt = 1; ; attempt++) {
    const before = await readBasis(redis, keys)
    const [currentFlat, versions] = before
    if (currentFlat.length === 0) return [currentFlat, versions, [], []]
    const basis: Record<string, string> = {}
    for (let i = 0; i < currentFlat.length; i += 2) basis[String(currentFlat[i])] = String(currentFlat[i + 1])
    const floors = dustFloors(basis.dustIds ?? '')
    // Both directions at once: their steps are independent reads.
    const replies = await Promise.all(
      (['downstream', 'upstream'] as const).map((d) =>
        `,${basis.directions ?? ''},`.includes(`,${d},`) ? witness(redis, keys, `:walk:r:${basis.runId}:${d}:labels`, hex, d === 'upstream', floors) : Promise.resolve([] as Step[]),
      ),
    )
    const after = await readBasis(redis, keys)
    // The same published walk and store throughout: the steps read one consistent state (labels
    // of a published run never change; node strings change only with a commit, which bumps the
    // version; a new publish changes the run id).
    if (same(before, after)) return [currentFlat, versions, replies[0]!, replies[1]!]
    // Never an answer pieced together from two states: check.ts answers WALK_STOPPED by asking again.
    if (attempt >= ATTEMPTS) throw new BaseError('WALK_STOPPED', `the published walk or the store changed during each of ${ATTEMPTS} reads of the answer for 0x${hex}`, { value: `0x${hex}` })
  }
}

async function readBasis(redis: Redis, keys: StoreKeys): Promise<[Buffer[], Buffer[]]> {
  // All global keys share the prefix's tag: one slot, one atomic read.
  const replies = (await redis.multi().hgetallBuffer(keys.walkCurrent).hmgetBuffer(keys.meta, 'version', 'labelsVersion', 'storeId').getBuffer(keys.seedVersion).exec()) ?? []
  for (const [error] of replies) if (error) throw error
  const current = replies[0]![1] as Record<string, Buffer>
  const flat: Buffer[] = []
  for (const [field, value] of Object.entries(current)) flat.push(Buffer.from(field), value)
  const meta = replies[1]![1] as (Buffer | null)[]
  const seedVersion = replies[2]![1] as Buffer | null
  const versions = [meta[0] ?? Buffer.from('0'), meta[1] ?? Buffer.from('0'), meta[2] ?? Buffer.from(''), seedVersion ?? Buffer.from('0')]
  return [flat, versions]
}

function same(a: [Buffer[], Buffer[]], b: [Buffer[], Buffer[]]): boolean {
  const text = (x: [Buffer[], Buffer[]]) => [...x[0], ...x[1]].map((v) => v.toString('hex')).join(',')
  return text(a) === text(b)
}

function dustFloors(dustIds: string): Map<number, Buffer> {
  const floors = new Map<number, Buffer>()
  for (const m of dustIds.matchAll(/(\d+)=([0-9a-fA-F]+)/g)) floors.set(Number(m[1]), Buffer.from(m[2]!, 'hex'))
  return floors
}

async function witness(redis: Redis, keys: StoreKeys, suffix: string, start: string, up: boolean, floors: Map<number, Buffer>): Promise<Step[] | Buffer> {
  const out: Step[] = []
  let limit: number | null = null
  let addr = start
  const counts = (r: Buffer) => {
    const floor = floors.get(r[26]!)
    return floor === undefined || Buffer.compare(r.subarray(27, 39), floor) >= 0
  }
  const inAmount = (r: Buffer) => (r.subarray(27, 31).equals(Buffer.alloc(4)) ? r.subarray(31, 39) : Buffer.alloc(8, 0xff))
  const labelsOf = (hex: string) => {
    const read = redis.hget(`${keys.partition(partitionOf(hex))}${suffix}`, hex)
    // Read ahead (below): if this step fails first, the read-ahead's failure is not unhandled.
    read.catch(() => undefined)
    return read
  }
  let nextLabels = labelsOf(addr)
  let seedRecord: { hex: string; read: Promise<Buffer | null> } | null = null
  for (let n = 0; n < HOPS_LIMIT; n++) {
    const text = await nextLabels
    if (text === null) return out.length === 0 ? [] : Buffer.from(`BROKEN_PATH no labels at ${addr}`)
    let best: { h: number; c: number; key: string } | null = null
    for (const m of text.matchAll(/(\d+),(-?\d+),([^;]*)/g)) {
      const h = Number(m[1])
      const c = Number(m[2])
      if ((limit === null || c <= limit) && (best === null || h < best.h)) best = { h, c, key: m[3]! }
    }
    if (best === null) return Buffer.from(`BROKEN_PATH no label of ${addr} fits the path`)
    if (out.length === 0) out.push(null)
    if (best.h === 0) {
      out[0] = await (seedRecord?.hex === addr ? seedRecord.read : redis.hgetBuffer(keys.seeds, `0x${addr}`))
      out.push(Buffer.from(addr), 0, Buffer.from(best.c.toFixed(0)), Buffer.alloc(0), null, null)
      return out
    }
    const neighbour = best.key.slice(0, 40)
    const tag = Buffer.from(best.key.slice(40), 'hex')
    const pos = up ? -best.c : best.c
    const asset = tag[6]
    // Upstream the transfer addr -> neighbour sits in addr's out-list; downstream neighbour -> addr in neighbour's.
    const [owner, to] = up ? [addr, neighbour] : [neighbour, addr]
    const toBytes = Buffer.from(to, 'hex')
    // One round trip per step: the neighbour's labels (the next step), the records at the
    // transfer's position and its block's time, each in its own slot, read at once.
    nextLabels = labelsOf(neighbour)
    // A label of 1 hop names its seed: read the seed's record with the seed's labels.
    if (best.h === 1) {
      seedRecord = { hex: neighbour, read: redis.hgetBuffer(keys.seeds, `0x${neighbour}`) }
      seedRecord.read.catch(() => undefined)
    }
    const [found, blockTime] = await Promise.all([callScriptBuffer(redis, 'out-at', [keys.node(`0x${owner}`)], [pos]), redis.hgetBuffer(keys.blockTime(blockOf(pos)), String(blockOf(pos)))])
    const records = found as Buffer[]
    const exact = up ? (r: Buffer) => inAmount(r).equals(tag.subarray(7, 15)) : (r: Buffer) => r.subarray(71, 74).equals(tag.subarray(7, 10))
    const toMatches = (r: Buffer) => r.subarray(6, 26).equals(toBytes)
    const record = records.find((r) => toMatches(r) && r[26] === asset && exact(r)) ?? records.find((r) => toMatches(r) && counts(r)) ?? null
    // (The record's block is the position's: out-at answers the records at that position only.)
    const time = record === null ? null : blockTime
    out.push(Buffer.from(addr), best.h, Buffer.from(best.c.toFixed(0)), Buffer.from(neighbour), record, time)
    limit = best.c
    addr = neighbour
  }
  return Buffer.from(`BROKEN_PATH longer than ${HOPS_LIMIT} hops from ${start}`)
}

function partitionOf(hex: string): number {
  return Number.parseInt(hex.slice(0, 2), 16)
}
