import slotOf from 'cluster-key-slot'
import type { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { storeKeys } from '../../src/store/keys.ts'
import { splitPipelinesBySlot } from '../../src/store/slot-pipeline.ts'

/**
 * A stand-in for an ioredis Cluster: each pipeline/MULTI it opens refuses commands of two slots (as
 * a real cluster does) and answers each command with its name and first key.
 */
function fakeCluster() {
  const sent: { transaction: boolean; commands: string[][] }[] = []
  const open = (transaction: boolean) => {
    const commands: string[][] = []
    const slots = new Set<number>()
    const target: Record<string, unknown> = {
      exec: async () => {
        if (slots.size > 1) throw new Error('CROSSSLOT')
        sent.push({ transaction, commands })
        return commands.map((c) => [null, c.join(' ')])
      },
    }
    return new Proxy(target, {
      get(t, prop: string) {
        if (prop in t) return t[prop]
        return (...args: unknown[]) => {
          const flat = args.flat().map(String)
          const key = prop.startsWith('exposure_') ? flat[1]! : flat[0]!
          slots.add(slotOf(key))
          commands.push([prop, ...flat])
        }
      },
    })
  }
  const cluster = { isCluster: true, pipeline: () => open(false), multi: () => open(true) } as unknown as Redis
  splitPipelinesBySlot(cluster)
  return { cluster, sent }
}

describe('pipelines and MULTIs on a cluster run per slot', () => {
  const keys = storeKeys('{t}')
  const a = keys.node(`0x00${'1'.repeat(38)}`)
  const b = keys.node(`0xff${'2'.repeat(38)}`)

  it('splits a pipeline naming two partitions and answers in the order queued', async () => {
    const { cluster, sent } = fakeCluster()
    const pipeline = cluster.pipeline()
    pipeline.strlen(a).strlen(b).hget(keys.meta, 'version').get(a)
    const replies = await pipeline.exec()
    expect(replies).toEqual([
      [null, `strlen ${a}`],
      [null, `strlen ${b}`],
      [null, `hget ${keys.meta} version`],
      [null, `get ${a}`],
    ])
    expect(sent).toHaveLength(3)
    expect(sent.every((s) => !s.transaction)).toBe(true)
  })

  it('runs a MULTI per slot in the order of each slot’s first command, and one slot as one MULTI', async () => {
    const { cluster, sent } = fakeCluster()
    await cluster.multi().rpush(keys.meta, 'x').hset(b, 'f', 'v').unlink(keys.meta).exec()
    expect(sent.map((s) => s.commands.map((c) => c[0]))).toEqual([['rpush', 'unlink'], ['hset']])
    expect(sent.every((s) => s.transaction)).toBe(true)
    sent.length = 0
    await cluster.multi().get(a).strlen(a).exec()
    expect(sent).toHaveLength(1)
  })

  it('routes our scripts by their first key (numkeys first)', async () => {
    const { cluster, sent } = fakeCluster()
    const pipeline = cluster.pipeline() as unknown as Record<string, (...args: unknown[]) => unknown> & { exec(): Promise<unknown> }
    pipeline.exposure_relax!(3, keys.walkLabels('r', 'downstream', 0), keys.walkFrontier('r', 'downstream', 0), keys.walkRunning(0), 'r')
    pipeline.exposure_relax!(3, keys.walkLabels('r', 'downstream', 255), keys.walkFrontier('r', 'downstream', 255), keys.walkRunning(255), 'r')
    await pipeline.exec()
    expect(sent).toHaveLength(2)
  })
})
