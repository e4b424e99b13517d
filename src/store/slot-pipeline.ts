/**
 * Pipelines and transactions that may name keys of many slots, on a Redis Cluster.
 *
 * The partitioned layout (keys.ts) puts per-address keys under 256 partition hash tags, so a
 * pipeline that reads or writes many addresses (walk relax batches, claim planning, coordinator
 * counts, readByPartition, journal bookkeeping) names keys of many slots. A single server runs
 * such a pipeline as it is; an ioredis Cluster refuses a pipeline whose keys are not all served by
 * one node, and Redis refuses a MULTI whose keys are not all in one slot (CROSSSLOT).
 *
 * On a cluster connection (connectRedis installs this), `pipeline()` and `multi()` return a
 * recorder: it keeps the commands, and `exec()` sends them as one pipeline (or MULTI) per slot —
 * pipelines concurrently, transactions one slot after another in the order their first command
 * was queued — and hands back the replies in the order the commands were queued, as ioredis does.
 * When every command falls in one slot (or names no key) it runs as one pipeline or MULTI, exactly
 * as before. A transaction that spans slots is atomic per slot only: callers whose correctness
 * depends on an all-or-nothing write across partitions order their writes so that a partial one
 * is harmless (commit.ts and walk-state.ts say how).
 */
import { exists, getKeyIndexes } from '@ioredis/commands'
import slotOf from 'cluster-key-slot'
import type { Cluster, Redis } from 'ioredis'

type Reply = [Error | null, unknown]
type Queued = { name: string; args: unknown[]; slot: number | null }

/** The slot of a queued command's first key, or null when it names none. */
function slotOfCommand(name: string, args: unknown[]): number | null {
  const base = name.endsWith('Buffer') ? name.slice(0, -'Buffer'.length) : name
  const flat = args.flat().filter((a) => typeof a === 'string' || typeof a === 'number' || Buffer.isBuffer(a)) as (string | number | Buffer)[]
  // Our scripts are custom commands (scripts.ts, screen/scripts.ts): numkeys, then the keys.
  if (!exists(base.toLowerCase())) return Number(flat[0]) > 0 ? slotOf(String(flat[1])) : flat.length > 0 && !/^\d+$/.test(String(flat[0])) ? slotOf(String(flat[0])) : null
  // MEMORY USAGE <key>: @ioredis/commands names no key for MEMORY.
  if (base.toLowerCase() === 'memory' && String(flat[0]).toLowerCase() === 'usage' && flat.length > 1) return slotOf(String(flat[1]))
  try {
    const indexes = getKeyIndexes(base.toLowerCase(), flat)
    if (indexes.length === 0) return null
    const key = flat[indexes[0]!]!
    return slotOf(Buffer.isBuffer(key) ? key.toString() : String(key))
  } catch {
    // A command @ioredis/commands does not know: its first argument is the key (our usage).
    return flat.length > 0 ? slotOf(String(flat[0])) : null
  }
}

/** A pipeline or MULTI recorder for a cluster connection (see the module comment). */
function recorder(cluster: Cluster, original: { pipeline: (...a: unknown[]) => unknown; multi: (...a: unknown[]) => unknown }, transaction: boolean): unknown {
  const queued: Queued[] = []
  const open = () => (transaction ? original.multi.call(cluster) : original.pipeline.call(cluster)) as Record<string, (...a: unknown[]) => unknown> & { exec(): Promise<Reply[] | null> }
  const run = async (commands: Queued[]): Promise<Reply[] | null> => {
    const real = open()
    for (const c of commands) real[c.name]!.apply(real, c.args)
    return real.exec()
  }
  const exec = async (): Promise<Reply[] | null> => {
    const slots = new Map<number | null, number[]>()
    queued.forEach((c, i) => {
      const group = slots.get(c.slot)
      if (group) group.push(i)
      else slots.set(c.slot, [i])
    })
    const keyed = [...slots.keys()].filter((s) => s !== null)
    if (keyed.length <= 1) return run(queued)
    // Keyless commands ride with the first slot's group.
    const groups = [...slots.entries()].filter(([s]) => s !== null).map(([, indices]) => indices)
    groups[0] = [...groups[0]!, ...(slots.get(null) ?? [])].sort((a, b) => a - b)
    const out = new Array<Reply>(queued.length)
    const place = (indices: number[], replies: Reply[] | null) => {
      if (replies === null) return false
      indices.forEach((index, k) => (out[index] = replies[k] ?? [new Error('no reply'), null]))
      return true
    }
    if (transaction) {
      for (const indices of groups) if (!place(indices, await run(indices.map((i) => queued[i]!)))) return null
    } else {
      const replies = await Promise.all(groups.map((indices) => run(indices.map((i) => queued[i]!))))
      groups.forEach((indices, g) => place(indices, replies[g]!))
    }
    return out
  }
  const proxy: unknown = new Proxy(
    {},
    {
      get(_target, prop) {
        if (prop === 'exec') return exec
        if (prop === 'length') return queued.length
        if (prop === 'then') return undefined
        if (typeof prop !== 'string') return undefined
        return (...args: unknown[]) => {
          queued.push({ name: prop, args, slot: slotOfCommand(prop, args) })
          return proxy
        }
      },
    },
  )
  return proxy
}

/**
 * Makes `pipeline()` and `multi()` of a cluster connection split by slot (a server connection is
 * left as it is). Calls with arguments (a command list, options) go to ioredis unchanged.
 */
export function splitPipelinesBySlot(redis: Redis): void {
  if ((redis as unknown as { isCluster?: boolean }).isCluster !== true) return
  const cluster = redis as unknown as Cluster & Record<string, unknown>
  if (cluster.__slotSplit === true) return
  const original = { pipeline: cluster.pipeline as (...a: unknown[]) => unknown, multi: cluster.multi as (...a: unknown[]) => unknown }
  cluster.pipeline = ((...args: unknown[]) => (args.length > 0 ? original.pipeline.apply(cluster, args) : recorder(cluster, original, false))) as never
  cluster.multi = ((...args: unknown[]) => (args.length > 0 ? original.multi.apply(cluster, args) : recorder(cluster, original, true))) as never
  cluster.__slotSplit = true
}
