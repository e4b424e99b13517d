/**
 * The short form of `npm run drills` (drills/run.ts): every drill once (bad values: every case),
 * against real processes and a private redis-server. A run that is not equal to a clean run fails
 * the test with the drill's own explanation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWorld, type World } from '../../drills/lib.ts'
import { DRILLS } from '../../drills/run.ts'

let world: World

beforeAll(async () => {
  world = await createWorld({ transfers: 12_000, addresses: 3_000 })
}, 300_000)

afterAll(async () => {
  await world?.close()
})

describe('operator drills, short form', () => {
  for (const drill of DRILLS.filter((d) => !d.testedApart)) {
    it(`${drill.name}: ${drill.what}`, async () => {
      const result = await drill.run(world, 1)
      expect(result.failures).toEqual([])
      expect(result.equal).toBe(result.runs)
    }, 600_000)
  }
})
