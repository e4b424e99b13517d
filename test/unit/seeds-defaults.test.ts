// The shipped default data sets (data/, built by scripts/build-default-data.ts) must read back with the
// importers and hold what data/README.md says. Cross-checked against the fixtures (never ../shared).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { readLabelCsv } from '../../src/seeds/labels.ts'
import { mergeSeeds, provenancesOf, readFbiBybitList, readSeedCsv } from '../../src/seeds/lists.ts'
import { parseSdnAdvanced } from '../../src/seeds/ofac-sdn.ts'

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url))
const SEEDS = root('data/default-seeds.csv')
const LABELS = root('data/default-labels.csv')

describe('data/default-seeds.csv', () => {
  it('reads back: one seed per address, every one with provenance', async () => {
    const { seeds, skipped } = await readSeedCsv(SEEDS)
    expect(skipped).toEqual([])
    expect(seeds).toHaveLength(125)
    expect(mergeSeeds(seeds)).toEqual(seeds)
    for (const seed of seeds) {
      expect(seed.extra?.actor).toContain('Lazarus Group')
      expect(Number(seed.extra?.confidence)).toBeGreaterThanOrEqual(60)
      expect(seed.extra?.listed).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(seed.source).not.toBe('')
    }
    // the header states the address is EIP-55 at the edge
    expect(readFileSync(SEEDS, 'utf8').split('\n')[1]).toMatch(/^0x098B716B8Aaf21512996dC57EB0615e2383E2f96,/)
  })

  it('holds the 8 OFAC Lazarus Group ETH addresses with their OFAC provenance', async () => {
    const { seeds } = await readSeedCsv(SEEDS)
    const byAddress = new Map(seeds.map((s) => [s.address, s]))
    const ofac = await parseSdnAdvanced(root('fixtures/seeds/ofac/sdn_advanced_2025-11-19_digital-currency-excerpt.xml'), { name: ['Lazarus Group'] })
    expect(ofac).toHaveLength(8)
    for (const record of ofac) {
      const seed = byAddress.get(record.address)
      expect(seed?.extra?.program).toBe('DPRK3')
      expect(provenancesOf(seed!).map((p) => p.source)).toContain('OFAC SDN sdn_advanced.xml 2025-11-19, profile 27307')
    }
  })

  it('holds the 51 FBI Bybit addresses, including the one the research notes misspell', async () => {
    const { seeds } = await readSeedCsv(SEEDS)
    const addresses = new Set(seeds.map((s) => s.address))
    const fbi = await readFbiBybitList(root('fixtures/seeds/fbi-bybit-2025/fbi_psa250226_eth_addresses.txt'))
    expect(fbi.seeds.filter((s) => !addresses.has(s.address))).toEqual([])
    const misspelt = seeds.find((s) => s.address === '0x55cca2f5eb07907696afe4b9db5102bce5feb734')
    expect(provenancesOf(misspelt!).map((p) => p.extra?.confidenceKind)).toEqual(['authority_data'])
  })
})

describe('data/default-labels.csv', () => {
  it('reads back: a few thousand service labels, no seed among them', async () => {
    const labels = await readLabelCsv(LABELS)
    expect(labels.length).toBeGreaterThan(1000)
    expect(labels.length).toBeLessThan(5000)
    expect(new Set(labels.map((l) => l.category))).toEqual(new Set(['exchange', 'bridge', 'dex', 'mixer']))
    expect(new Set(labels.map((l) => l.address)).size).toBe(labels.length)
    expect(labels.find((l) => l.address === '0xd90e2f925da726b50c4ed8d0fb90ad053324f31b')).toMatchObject({ label: 'Tornado.Cash: Router', category: 'mixer' })
    const { seeds } = await readSeedCsv(SEEDS)
    const labelled = new Set(labels.map((l) => l.address))
    expect(seeds.filter((s) => labelled.has(s.address))).toEqual([])
  })
})
