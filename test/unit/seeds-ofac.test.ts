import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { parse } from 'csv-parse/sync'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.ts'
import { parseSdnAdvanced, readSdnAdvanced, readSdnSeeds, sdnRecordToSeed } from '../../src/seeds/ofac-sdn.ts'

const fixture = (path: string): string => fileURLToPath(new URL(`../../fixtures/seeds/ofac/${path}`, import.meta.url))
const EXCERPT = fixture('sdn_advanced_2025-11-19_digital-currency-excerpt.xml')
const MINI_BZ2 = fixture('sdn_advanced_2025-11-19_lazarus-mini.xml.bz2')
const EXPECTED = parse(readFileSync(fixture('expected_digital_currency_addresses_2025-11-19.csv')), { columns: true }) as Array<
  Record<'profile_id' | 'primary_name' | 'programs' | 'currency' | 'address', string>
>
const LAZARUS_ETH = [
  '0x098B716B8Aaf21512996dC57EB0615e2383E2f96',
  '0xa0e1c89Ef1a489c9C7dE96311eD5Ce5D32c20E4B',
  '0x3Cffd56B47B7b41c56258D9C7731ABaDc360E073',
  '0x53b6936513e738f44FB50d2b9476730C0Ab3Bfc1',
  '0x35fB6f6DB4fb05e6A4cE86f2C93691425626d4b1',
  '0xF7B31119c2682c88d88D455dBb9d5932c65Cf1bE',
  '0x3e37627dEAA754090fBFbb8bd226c1CE66D255e9',
  '0x08723392Ed15743cc38513C4925f5e6be5c17243',
]

const tmp = mkdtempSync(join(tmpdir(), 'seeds-ofac-'))
function writeTmp(name: string, content: string | Buffer): string {
  const path = join(tmp, name)
  writeFileSync(path, content)
  return path
}

async function failure(promise: Promise<unknown>): Promise<InputError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('expected an InputError, got success')
}

const flatten = (r: { profileId: string; primaryName: string; programs: string[]; currency: string; value: string }): string[] => [
  r.profileId,
  r.primaryName,
  r.programs.join(';'),
  r.currency,
  r.value,
]

describe('readSdnAdvanced on the real excerpt', () => {
  it('reproduces the expected flattened ETH list exactly (77 rows, in file order)', async () => {
    const records = await parseSdnAdvanced(EXCERPT)
    const expected = EXPECTED.filter((row) => row.currency === 'ETH').map((row) => [row.profile_id, row.primary_name, row.programs, row.currency, row.address])
    expect(expected).toHaveLength(77)
    expect(records.map(flatten)).toEqual(expected)
    expect(records.every((r) => r.address === r.value.toLowerCase() && r.featureType === 'Digital Currency Address - ETH')).toBe(true)
    expect(records.every((r) => r.published === '2025-11-19')).toBe(true)
  })

  it('finds Lazarus Group: profile 27307, program DPRK3, 8 ETH addresses, designated 2019-09-13', async () => {
    const records = await parseSdnAdvanced(EXCERPT, { name: ['lazarus group'] })
    expect(records.map((r) => r.value)).toEqual(LAZARUS_ETH)
    expect(new Set(records.map((r) => `${r.profileId} ${r.primaryName} ${r.programs.join(';')} ${r.designated}`))).toEqual(
      new Set(['27307 Lazarus Group DPRK3 2019-09-13']),
    )
    // the line of the first address's VersionDetail in the excerpt
    expect(records[0]?.line).toBe(11410)
    expect(readFileSync(EXCERPT, 'utf8').split('\n')[11409]).toContain(LAZARUS_ETH[0])
  })

  it('filters by program: DPRK3 is Lazarus Group and Semenov Roman (Tornado Cash), not only Lazarus', async () => {
    const records = await parseSdnAdvanced(EXCERPT, { program: ['dprk3'] })
    const byProfile: Record<string, number> = {}
    for (const r of records) byProfile[`${r.profileId} ${r.primaryName}`] = (byProfile[`${r.profileId} ${r.primaryName}`] ?? 0) + 1
    expect(byProfile).toEqual({ '27307 Lazarus Group': 8, '44718 Semenov Roman': 8 })
  })

  it("'all-evm' adds ETC, ARB, BSC, USDC and the 0x values of USDT (not Tron's)", async () => {
    const records = await parseSdnAdvanced(EXCERPT, { features: 'all-evm' })
    const counts: Record<string, number> = {}
    for (const r of records) counts[r.currency] = (counts[r.currency] ?? 0) + 1
    expect(counts).toEqual({ ETH: 77, USDT: 8, USDC: 2, ETC: 1, ARB: 1, BSC: 1 })
    const expected = EXPECTED.filter((row) => ['ETH', 'ETC', 'ARB', 'BSC', 'USDC', 'USDT'].includes(row.currency) && row.address.startsWith('0x')).map(
      (row) => [row.profile_id, row.primary_name, row.programs, row.currency, row.address],
    )
    expect(records.map(flatten)).toEqual(expected)
    // the expected list has 93 USDT rows: 78 Tron (T…) and 7 Omni/Bitcoin (1…, 3…) addresses besides the 8 EVM ones
    const usdt = EXPECTED.filter((row) => row.currency === 'USDT')
    expect(usdt.filter((row) => row.address.startsWith('T'))).toHaveLength(78)
    expect(usdt.filter((row) => /^[13]/.test(row.address))).toHaveLength(7)
    // Sim Hyon Sop (NPWMD) lists one address three times: under ETH, ARB and BSC
    const sim = records.filter((r) => r.profileId === '42498')
    expect(sim.map((r) => r.currency)).toEqual(['ETH', 'ARB', 'BSC'])
    expect(new Set(sim.map((r) => r.address)).size).toBe(1)
  })

  it('turns records into seeds with provenance', async () => {
    const seeds = await readSdnSeeds(EXCERPT, { name: ['Lazarus Group'] })
    expect(seeds).toHaveLength(8)
    expect(seeds[0]).toEqual({
      address: '0x098b716b8aaf21512996dc57eb0615e2383e2f96',
      label: 'Lazarus Group',
      source: 'OFAC SDN sdn_advanced.xml 2025-11-19, profile 27307',
      extra: {
        actor: 'Lazarus Group',
        program: 'DPRK3',
        profileId: '27307',
        listed: '2025-11-19',
        confidence: '60',
        confidenceKind: 'authority_data',
        featureType: 'Digital Currency Address - ETH',
        designated: '2019-09-13',
      },
    })
    const [first] = await parseSdnAdvanced(EXCERPT, { program: ['CYBER2', 'ELECTION-EO13848'] })
    expect(first === undefined ? undefined : sdnRecordToSeed(first).extra?.program).toBe('CYBER2')
  })
})

describe('readSdnAdvanced inputs', () => {
  it('reads .bz2 by extension', async () => {
    const records = await parseSdnAdvanced(MINI_BZ2)
    expect(records.map((r) => r.value)).toEqual(LAZARUS_ETH)
  })

  it('reads .gz by extension', async () => {
    const path = writeTmp('excerpt.xml.gz', gzipSync(readFileSync(EXCERPT)))
    expect(await parseSdnAdvanced(path)).toHaveLength(77)
  })

  it('reads a stream, naming it by the file option', async () => {
    const records = []
    for await (const record of readSdnAdvanced(createReadStream(EXCERPT), { file: 'excerpt.xml', name: ['Lazarus Group'] })) records.push(record)
    expect(records).toHaveLength(8)
  })

  it('does not depend on the reference values coming first', async () => {
    const mini = (await import('node:zlib')).gunzipSync(gzipSync(readFileSync(EXCERPT))).toString('utf8')
    const lines = mini.split('\n')
    const start = lines.findIndex((l) => l.includes('<ReferenceValueSets>'))
    const end = lines.findIndex((l) => l.includes('</ReferenceValueSets>'))
    const references = lines.slice(start, end + 1)
    const rest = [...lines.slice(0, start), ...lines.slice(end + 1)]
    const close = rest.findIndex((l) => l.includes('</Sanctions>'))
    rest.splice(close, 0, ...references) // reference values last
    const path = writeTmp('references-last.xml', rest.join('\n'))
    const records = await parseSdnAdvanced(path, { features: 'all-evm' })
    expect(records).toHaveLength(90)
    expect(records.filter((r) => r.profileId === '27307').map((r) => r.value)).toEqual(LAZARUS_ETH)
  })
})

describe('readSdnAdvanced reliability', () => {
  it('leaves out a feature version OFAC marks with reliability "False"', async () => {
    const lines = readFileSync(EXCERPT, 'utf8').split('\n')
    const index = lines.findIndex((l) => l.includes(LAZARUS_ETH[0]!))
    expect(lines[index - 2]).toContain('<FeatureVersion ID="47914" ReliabilityID="1560">')
    lines[index - 2] = lines[index - 2]!.replace('ReliabilityID="1560"', 'ReliabilityID="1561"')
    const records = await parseSdnAdvanced(writeTmp('false-reliability.xml', lines.join('\n')), { name: ['Lazarus Group'] })
    expect(records.map((r) => r.value)).toEqual(LAZARUS_ETH.slice(1))
  })
})

describe('readSdnAdvanced bad input (all-or-nothing)', () => {
  const text = readFileSync(EXCERPT, 'utf8')
  const lines = text.split('\n')

  it('malformed XML → MALFORMED_FILE naming the file and line', async () => {
    const index = lines.findIndex((l, i) => i > 11410 && l.includes('</Feature>'))
    const broken = [...lines]
    broken[index] = broken[index]!.replace('</Feature>', '</Featur>')
    const path = writeTmp('malformed.xml', broken.join('\n'))
    const error = await failure(parseSdnAdvanced(path))
    expect(error.code).toBe('MALFORMED_FILE')
    expect(error.details.file).toBe(path)
    expect(error.details.line).toBe(index + 1)
  })

  it('truncated XML → MALFORMED_FILE at the last line, and nothing yielded', async () => {
    const cut = text.slice(0, Math.floor(text.length / 2))
    const path = writeTmp('truncated.xml', cut)
    const yielded: unknown[] = []
    const error = await failure(
      (async () => {
        for await (const record of readSdnAdvanced(path)) yielded.push(record)
      })(),
    )
    expect(error.code).toBe('MALFORMED_FILE')
    expect(error.details).toMatchObject({ file: path, line: cut.split('\n').length })
    expect(error.shortMessage).toMatch(/^truncated or malformed XML/)
    expect(yielded).toHaveLength(0)
  })

  it('a truncated .bz2 → MALFORMED_FILE', async () => {
    const bytes = readFileSync(MINI_BZ2)
    const path = writeTmp('truncated.xml.bz2', bytes.subarray(0, bytes.length - 100))
    const error = await failure(parseSdnAdvanced(path))
    expect(error.code).toBe('MALFORMED_FILE')
    expect(error.details.file).toBe(path)
  })

  it('a well-formed document that is not an SDN file → MALFORMED_FILE', async () => {
    const path = writeTmp('other.xml', '<?xml version="1.0"?>\n<rss><channel/></rss>\n')
    const error = await failure(parseSdnAdvanced(path))
    expect(error.code).toBe('MALFORMED_FILE')
    expect(error.details.line).toBe(2)
  })

  it('an ETH value with a wrong EIP-55 checksum → INVALID_ADDRESS naming line and feature type', async () => {
    const index = lines.findIndex((l) => l.includes(LAZARUS_ETH[1]!))
    const broken = [...lines]
    broken[index] = broken[index]!.replace(LAZARUS_ETH[1]!, '0xA0e1c89Ef1a489c9C7dE96311eD5Ce5D32c20E4B')
    const path = writeTmp('bad-checksum.xml', broken.join('\n'))
    const error = await failure(parseSdnAdvanced(path))
    expect(error.code).toBe('INVALID_ADDRESS')
    expect(error.details).toMatchObject({
      file: path,
      line: index + 1,
      field: 'Digital Currency Address - ETH',
      value: '0xA0e1c89Ef1a489c9C7dE96311eD5Ce5D32c20E4B',
    })
  })

  it('a missing file → FILE_NOT_FOUND', async () => {
    const error = await failure(parseSdnAdvanced(join(tmp, 'nope.xml')))
    expect(error.code).toBe('FILE_NOT_FOUND')
  })
})
