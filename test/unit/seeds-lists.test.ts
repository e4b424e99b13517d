import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.ts'
import { toCsv } from '../../src/seeds/csv.ts'
import {
  mergeSeeds,
  provenancesOf,
  readFbiBybitList,
  readIncidentAddresses,
  readIncidentSeeds,
  readSeedCsv,
  readSeedFile,
  readSeedJson,
  readSeedTxt,
  readTagPack,
  seedsToCsvRows,
} from '../../src/seeds/lists.ts'
import type { Seed } from '../../src/types.ts'

const fixture = (path: string): string => fileURLToPath(new URL(`../../fixtures/seeds/${path}`, import.meta.url))
const INCIDENTS = fixture('lazarus-incidents/lazarus_incident_addresses_tayvano_trimmed.csv')
const FBI = fixture('fbi-bybit-2025/fbi_psa250226_eth_addresses.txt')
const RONIN = '0x098b716b8aaf21512996dc57eb0615e2383e2f96'
const MISSPELT = '0x55CCa2f5eB07907696afe4b9Db5102bCE5feB734'

async function failure(promise: Promise<unknown>): Promise<InputError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('expected an InputError, got success')
}

describe('plain lists', () => {
  it('CSV: address,label,source + extra columns; lowercase, uppercase hex and EIP-55 accepted', async () => {
    const { seeds, skipped } = await readSeedCsv(fixture('lists/seeds.csv'))
    expect(skipped).toEqual([])
    expect(seeds.map((s) => s.address)).toEqual([
      RONIN,
      '0xa0e1c89ef1a489c9c7de96311ed5ce5d32c20e4b',
      '0x3cffd56b47b7b41c56258d9c7731abadc360e073',
      '0x51e9d833ecae4e8d9d8be17300aee6d3398c135d',
      RONIN,
    ])
    expect(seeds[0]).toEqual({
      address: RONIN,
      label: 'Lazarus Group',
      source: 'OFAC recent actions 2022-04-14',
      extra: { incident: 'ronin_bridge_2022', listed: '2022-04-14', confidence: '60', note: 'Ronin exploiter, the "primary" wallet' },
    })
    expect(seeds[1]?.extra).toEqual({ incident: 'ronin_bridge_2022', listed: '2022-04-22', confidence: '60' })
  })

  it('CSV: a real tracker list with unquoted commas in a cell is MALFORMED_FILE at its first bad line', async () => {
    // ultrasoundmoney's list writes `… (also in 20220422, 20220506)` without quotes
    const file = fixture('lists/ultrasound_ofac_first_seen_trimmed.csv')
    const error = await failure(readSeedCsv(file))
    expect(error.code).toBe('MALFORMED_FILE')
    expect(error.details).toEqual({ file, line: 2 })
    expect(error.shortMessage).toBe('malformed CSV: Invalid Record Length: expect 4, got 5')
  })

  it('CSV: a bad EIP-55 checksum is INVALID_ADDRESS at file:line, or skipped with skipInvalid', async () => {
    const file = fixture('lists/bad-checksum.csv')
    const error = await failure(readSeedCsv(file))
    expect(error.code).toBe('INVALID_ADDRESS')
    expect(error.details).toMatchObject({ file, line: 3, field: 'address', value: MISSPELT })
    const { seeds, skipped } = await readSeedCsv(file, { skipInvalid: true })
    expect(seeds).toHaveLength(2)
    expect(skipped).toEqual([
      { code: 'INVALID_ADDRESS', file, line: 3, field: 'address', value: MISSPELT, reason: 'mixed-case address fails its EIP-55 checksum' },
    ])
  })

  it('CSV: an unclosed quote is MALFORMED_FILE, even with skipInvalid', async () => {
    const file = fixture('lists/malformed.csv')
    const error = await failure(readSeedCsv(file, { skipInvalid: true }))
    expect(error.code).toBe('MALFORMED_FILE')
    expect(error.details.file).toBe(file)
    expect(error.details.line).toBe(3)
  })

  it('CSV: a header without address, or rows without label and no default, is MALFORMED_FILE', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seeds-lists-'))
    const noAddress = join(dir, 'no-address.csv')
    writeFileSync(noAddress, 'wallet,label,source\n0x51E9d833Ecae4E8D9D8Be17300AEE6D3398C135D,x,y\n')
    expect((await failure(readSeedCsv(noAddress))).details).toMatchObject({ line: 1, field: 'address' })
    const noLabel = join(dir, 'no-label.csv')
    writeFileSync(noLabel, 'address,label,source\n0x51E9d833Ecae4E8D9D8Be17300AEE6D3398C135D,,FBI\n')
    expect((await failure(readSeedCsv(noLabel))).details).toMatchObject({ line: 2, field: 'label' })
    expect((await readSeedCsv(noLabel, { label: 'Bybit thief' })).seeds[0]?.label).toBe('Bybit thief')
  })

  it('JSON: objects (non-string extras as JSON) and plain address arrays', async () => {
    const { seeds } = await readSeedJson(fixture('lists/seeds.json'))
    expect(seeds).toEqual([
      {
        address: RONIN,
        label: 'Lazarus Group',
        source: 'OFAC recent actions 2022-04-14',
        extra: { incident: 'ronin_bridge_2022', confidence: '60', tags: '["ronin","exploiter"]' },
      },
      { address: '0x51e9d833ecae4e8d9d8be17300aee6d3398c135d', label: 'Bybit thief', source: 'FBI PSA I-022625-PSA', extra: { listed: '2025-02-26' } },
    ])
    const brave = fixture('lists/brave_sanctioned_addresses_ETH_trimmed.json')
    expect((await failure(readSeedJson(brave))).details).toMatchObject({ field: '[0].label', line: 2 })
    const list = await readSeedJson(brave, { label: 'OFAC SDN (brave list)', source: 'brave-intl lists 2025-11-19' })
    expect(list.seeds).toHaveLength(7)
    expect(list.seeds.some((s) => s.address === RONIN)).toBe(true)
  })

  it('JSON: a short address is INVALID_ADDRESS with its line; bad syntax is MALFORMED_FILE with its line', async () => {
    const bad = await failure(readSeedJson(fixture('lists/bad-length.json')))
    expect(bad.code).toBe('INVALID_ADDRESS')
    expect(bad.details).toMatchObject({ line: 3, field: '[1].address', value: '0x96244D83DC15d36847C35209bBDc5bdDE9bEc3D' })
    const malformed = await failure(readSeedJson(fixture('lists/malformed.json')))
    expect(malformed.code).toBe('MALFORMED_FILE')
    expect(malformed.details.line).toBe(3)
  })

  it('TXT: one address per line, # comments, blank lines; non-hex reported with its line', async () => {
    const { seeds } = await readSeedTxt(fixture('lists/seeds.txt'), { source: 'FBI PSA I-022625-PSA' })
    expect(seeds.map((s) => s.address)).toEqual([
      '0x51e9d833ecae4e8d9d8be17300aee6d3398c135d',
      '0x96244d83dc15d36847c35209bbdc5bdde9bec3d8',
      '0x83c7678492d623fb98834f0fbcb2e7b7f5af8950',
    ])
    expect(seeds[0]).toMatchObject({ label: 'seeds.txt', source: 'FBI PSA I-022625-PSA' })
    const file = fixture('lists/non-hex.txt')
    const error = await failure(readSeedTxt(file))
    expect(error.details).toMatchObject({ file, line: 3, value: '0x96244D83DC15d36847C35209bBDc5bdDE9bEc3DO' })
    expect((await readSeedTxt(file, { skipInvalid: true })).skipped.map((s) => s.line)).toEqual([3])
  })

  it('readSeedFile picks the reader by extension', async () => {
    expect((await readSeedFile(fixture('lists/seeds.csv'))).seeds).toHaveLength(5)
    expect((await readSeedFile(fixture('lists/seeds.json'))).seeds).toHaveLength(2)
    expect((await readSeedFile(fixture('lists/seeds.txt'))).seeds).toHaveLength(3)
    expect((await readSeedFile(fixture('lists/lazarus.tagpack.yaml'))).seeds).toHaveLength(5)
    expect((await failure(readSeedFile(fixture('lists/PROVENANCE.txt').replace('.txt', '.xlsx')))).code).toBe('MALFORMED_FILE')
  })
})

describe('FBI Bybit list', () => {
  it('51 seeds with the PSA as provenance (authority data, 60)', async () => {
    const { seeds, skipped } = await readFbiBybitList(FBI)
    expect(skipped).toEqual([])
    expect(seeds).toHaveLength(51)
    expect(new Set(seeds.map((s) => s.address)).size).toBe(51)
    expect(seeds[0]).toEqual({
      address: '0x51e9d833ecae4e8d9d8be17300aee6d3398c135d',
      label: 'Lazarus Group (TraderTraitor), Bybit theft: FBI PSA I-022625-PSA',
      source: 'FBI PSA I-022625-PSA (2025-02-26) https://www.ic3.gov/PSA/2025/PSA250226',
      extra: { actor: 'Lazarus Group', incident: 'bybit_2025', listed: '2025-02-26', confidence: '60', confidenceKind: 'authority_data' },
    })
  })
})

describe('Lazarus incident list', () => {
  it('reports the real bad-checksum row as INVALID_ADDRESS naming file:line (all-or-nothing)', async () => {
    const error = await failure(readIncidentSeeds(INCIDENTS))
    expect(error.code).toBe('INVALID_ADDRESS')
    expect(error.details).toMatchObject({ file: INCIDENTS, line: 63, field: 'address', value: MISSPELT })
    expect(error.message.startsWith(`${INCIDENTS}:63: invalid address`)).toBe(true)
  })

  it('with skipInvalid: the attackers on Ethereum as seeds, the bad row in skipped', async () => {
    const { seeds, skipped } = await readIncidentSeeds(INCIDENTS, { skipInvalid: true })
    expect(skipped).toEqual([
      { code: 'INVALID_ADDRESS', file: INCIDENTS, line: 63, field: 'address', value: MISSPELT, reason: 'mixed-case address fails its EIP-55 checksum' },
    ])
    expect(seeds).toHaveLength(78)
    expect(seeds.every((s) => s.extra?.role === 'attacker' && s.extra.chain === 'ethereum')).toBe(true)
    const counts: Record<string, number> = {}
    for (const s of seeds) counts[s.extra?.incident ?? ''] = (counts[s.extra?.incident ?? ''] ?? 0) + 1
    expect(counts).toEqual({ bybit_2025: 58, ronin_bridge_2022: 4, harmony_horizon_2022: 4, stake_com_2023: 4, coinex_2023: 4, wazirx_2024: 4 })
    const ronin = seeds.find((s) => s.address === RONIN)
    expect(ronin).toEqual({
      address: RONIN,
      label: 'Lazarus Group, ronin_bridge_2022: Primary',
      source: 'tayvano/lazarus-bluenoroff-research/hacks-and-thefts/ronin_bridge.md@11a2f6db0e9c6a9a6e812f05ce966366db6c3f8e',
      extra: {
        actor: 'Lazarus Group',
        incident: 'ronin_bridge_2022',
        listed: '2022-03-23',
        role: 'attacker',
        chain: 'ethereum',
        confidence: '70',
        confidenceKind: 'forensic_investigation',
      },
    })
  })

  it('victims and exchange deposit addresses are never seeds; other roles and chains on request', async () => {
    const all = await readIncidentAddresses(INCIDENTS, { skipInvalid: true })
    expect(all.addresses).toHaveLength(121)
    const victims = new Set(all.addresses.filter((a) => a.role === 'victim').map((a) => a.address))
    expect(victims.size).toBe(11)
    const more = await readIncidentSeeds(INCIDENTS, { skipInvalid: true, roles: ['attacker', 'mixer_depositor', 'mixer_withdrawer'] })
    expect(more.seeds).toHaveLength(78 + 3 + 6)
    expect(more.seeds.some((s) => victims.has(s.address))).toBe(false)
    const bsc = await readIncidentSeeds(INCIDENTS, { skipInvalid: true, chains: ['bsc'] })
    expect(bsc.seeds.map((s) => s.extra?.incident)).toEqual(['stake_com_2023', 'stake_com_2023', 'stake_com_2023', 'stake_com_2023', 'coinex_2023', 'coinex_2023'])
    // @ts-expect-error victims are not a seed role
    const error = await failure(readIncidentSeeds(INCIDENTS, { roles: ['victim'] }))
    expect(error.code).toBe('INVALID_ARGUMENT')
  })

  it('the skipped spelling is in the FBI list correctly checksummed, so merging keeps the address', async () => {
    const fbi = await readFbiBybitList(FBI)
    const incidents = await readIncidentSeeds(INCIDENTS, { skipInvalid: true })
    const merged = mergeSeeds([...fbi.seeds, ...incidents.seeds])
    expect(merged.some((s) => s.address === MISSPELT.toLowerCase())).toBe(true)
    // all 51 FBI addresses are Bybit attackers of the research list: only the misspelt one is added
    expect(merged).toHaveLength(78 + 1)
  })
})

describe('mergeSeeds', () => {
  it('merges one address from several sources into one seed with every provenance', async () => {
    const { seeds } = await readSeedCsv(fixture('lists/seeds.csv'))
    const merged = mergeSeeds(seeds)
    expect(merged).toHaveLength(4)
    const ronin = merged[0]
    expect(ronin?.address).toBe(RONIN)
    expect(ronin?.label).toBe('Lazarus Group') // confidence 60 beats 20
    expect(ronin?.source).toBe('OFAC recent actions 2022-04-14 | Etherscan label (2023-06)')
    expect(ronin?.extra).toMatchObject({ incident: 'ronin_bridge_2022', listed: '2022-04-14', confidence: '60' })
    expect(JSON.parse(ronin?.extra?.sources ?? '[]')).toEqual([
      {
        label: 'Lazarus Group',
        source: 'OFAC recent actions 2022-04-14',
        incident: 'ronin_bridge_2022',
        listed: '2022-04-14',
        confidence: '60',
        note: 'Ronin exploiter, the "primary" wallet',
      },
      { label: 'Ronin Bridge Exploiter', source: 'Etherscan label (2023-06)', incident: 'ronin_bridge_2022', confidence: '20', note: 'same address as line 2' },
    ])
    expect(provenancesOf(ronin as Seed).map((p) => p.source)).toEqual(['OFAC recent actions 2022-04-14', 'Etherscan label (2023-06)'])
    expect(merged[1]?.extra?.sources).toBeUndefined()
  })

  it('is idempotent and flattens merged seeds instead of nesting them', async () => {
    const { seeds } = await readSeedCsv(fixture('lists/seeds.csv'))
    const merged = mergeSeeds(seeds)
    expect(mergeSeeds(merged)).toEqual(merged)
    const extra: Seed = { address: RONIN, label: 'Ronin thief', source: 'another list', extra: { listed: '2022-03-29' } }
    const again = mergeSeeds([...merged, extra])
    expect(again[0]?.extra?.listed).toBe('2022-03-29')
    expect(JSON.parse(again[0]?.extra?.sources ?? '[]')).toHaveLength(3)
    expect(mergeSeeds([...seeds, extra])).toEqual(again)
  })

  it('round-trips through CSV (seedsToCsvRows → readSeedCsv)', async () => {
    const { seeds } = await readSeedCsv(fixture('lists/seeds.csv'))
    const merged = mergeSeeds(seeds)
    const path = join(mkdtempSync(join(tmpdir(), 'seeds-csv-')), 'merged.csv')
    writeFileSync(path, toCsv(seedsToCsvRows(merged)))
    expect(readFileSync(path, 'utf8').split('\n')[0]).toBe('address,label,source,incident,listed,confidence,note,sources')
    expect((await readSeedCsv(path)).seeds).toEqual(merged)
  })
})

describe('GraphSense TagPack', () => {
  const TAGPACK = fixture('lists/lazarus.tagpack.yaml')

  it('applies header fields to every tag, keeps Ethereum tags only, and does not turn 0x addresses into numbers', async () => {
    const { seeds, ignored, skipped } = await readTagPack(TAGPACK)
    expect(ignored).toBe(1) // the Tron USDT tag
    expect(skipped).toEqual([])
    expect(seeds.map((s) => s.address)).toEqual([
      '0x51e9d833ecae4e8d9d8be17300aee6d3398c135d',
      '0x96244d83dc15d36847c35209bbdc5bdde9bec3d8',
      RONIN,
      '0x83c7678492d623fb98834f0fbcb2e7b7f5af8950',
      '0x28c6c06298d514db089934071355e5743bf21d60',
    ])
    expect(seeds[0]).toEqual({
      address: '0x51e9d833ecae4e8d9d8be17300aee6d3398c135d',
      label: 'Bybit thief 1',
      source: 'https://www.ic3.gov/PSA/2025/PSA250226',
      extra: {
        confidence: '60',
        confidenceKind: 'authority_data',
        actor: 'lazarus',
        category: 'perpetrator',
        listed: '2025-02-26',
        tagpack: 'Lazarus Group addresses (test TagPack)',
      },
    })
    expect(seeds[2]).toMatchObject({
      source: 'https://home.treasury.gov/policy-issues/financial-sanctions/recent-actions/20220414',
      extra: { listed: '2022-04-14' },
    })
    expect(seeds[4]?.extra).toMatchObject({ confidence: '20', actor: 'binance', category: 'exchange' })
    expect(seeds[4]?.extra?.confidenceKind).toBeUndefined()
  })

  it('filters by actor', async () => {
    const { seeds } = await readTagPack(TAGPACK, { actors: ['Lazarus'] })
    expect(seeds).toHaveLength(4)
  })

  it('an unknown confidence or broken YAML is MALFORMED_FILE with the line', async () => {
    const bad = await failure(readTagPack(fixture('lists/tagpack-bad-confidence.yaml')))
    expect(bad.code).toBe('MALFORMED_FILE')
    expect(bad.details).toMatchObject({ line: 6, field: 'tags[0].confidence', value: 'very_sure' })
    const broken = await failure(readTagPack(fixture('lists/tagpack-malformed.yaml')))
    expect(broken.code).toBe('MALFORMED_FILE')
    expect(broken.details.line).toBeGreaterThanOrEqual(5)
    expect(broken.details.line).toBeLessThanOrEqual(6)
  })
})
