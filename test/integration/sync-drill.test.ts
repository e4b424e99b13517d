/**
 * The sync drill (drills/sync.ts) in small: one SIGKILL and one SIGINT of `exposure sync` at a
 * random moment while it writes, then a resumed sync: the store equals a clean full sync byte for
 * byte, its coverage is exactly the asked range, and no import or lock is left behind.
 */
import { describe, expect, it } from 'vitest'
import { runSyncDrill } from '../../drills/sync.ts'

describe('sync drill', () => {
  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    it(`${signal} at a random moment, then a resumed sync: equal to a clean sync`, async () => {
      const result = await runSyncDrill({ runs: 1, signal, blocks: 24 })
      expect(result.failures).toEqual([])
      expect(result).toMatchObject({ runs: 1, equal: 1 })
      expect(result.recoverMs).toHaveLength(1)
    }, 300_000)
  }
})
