import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.ts'
import { readLabelsFrom, readSeedsFrom, type SeedFormat } from '../../src/seeds/import-file.ts'
import { MAX_LABEL_LENGTH, MAX_SOURCE_LENGTH } from '../../src/seeds/text.ts'

/**
 * Seeds and labels at the edge: the zero address is never a seed (any format), and label text is
 * bounded; each refusal names file:line and field, and --skip-invalid skips the entry with a report.
 */
const tmp = mkdtempSync(join(tmpdir(), 'seeds-validation-'))
let n = 0
function write(name: string, text: string): string {
  const path = join(tmp, `${++n}-${name}`)
  writeFileSync(path, text)
  return path
}
const seedFixture = (path: string) => fileURLToPath(new URL(`../../fixtures/seeds/${path}`, import.meta.url))

const ZERO = '0x0000000000000000000000000000000000000000'
const GOOD = '0x098b716b8aaf21512996dc57eb0615e2383e2f96'
const OTHER = '0xa0e1c89ef1a489c9c7de96311ed5ce5d32c20e4b'

async function refusal(promise: Promise<unknown>): Promise<InputError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error('expected an InputError, got success')
}

const TAGPACK = (address: string, label = 'Lazarus Group wallet') => `title: test pack
creator: test
currency: ETH
confidence: authority_data
source: https://example.org/advisory
tags:
  - address: ${GOOD}
    label: fine
  - address: ${address}
    label: ${JSON.stringify(label)}
`

const SEED_FILES: Record<Exclude<SeedFormat, 'sdn'>, { name: string; text: (address: string) => string; line: number; field: string }> = {
  csv: { name: 'seeds.csv', text: (a) => `address,label,source\n${GOOD},one,src\n${a},two,src\n`, line: 3, field: 'address' },
  json: { name: 'seeds.json', text: (a) => `[\n  {"address": "${GOOD}", "label": "one", "source": "src"},\n  {"address": "${a}", "label": "two", "source": "src"}\n]\n`, line: 3, field: '[1].address' },
  txt: { name: 'seeds.txt', text: (a) => `# list\n${GOOD}\n${a}\n`, line: 3, field: 'address' },
  fbi: { name: 'fbi.txt', text: (a) => `${GOOD}\n\n${a}\n`, line: 3, field: 'address' },
  incidents: {
    name: 'incidents.csv',
    text: (a) =>
      'incident,incident_date,chain,address,address_lc,label,role,source_repo,source_path,source_commit\n' +
      `bybit_2025,2025-02-21,ethereum,${GOOD},${GOOD},Exploiter,attacker,repo,path,abc\n` +
      `bybit_2025,2025-02-21,ethereum,${a},${a.toLowerCase()},Exploiter 2,attacker,repo,path,abc\n`,
    line: 3,
    field: 'address',
  },
  tagpack: { name: 'pack.yaml', text: (a) => TAGPACK(a), line: 9, field: 'tags[1].address' },
}

describe('the zero address is never a seed', () => {
  for (const [format, spec] of Object.entries(SEED_FILES) as [Exclude<SeedFormat, 'sdn'>, (typeof SEED_FILES)['csv']][]) {
    it(`${format}: refused with file:line and field; skipped with a report under skipInvalid`, async () => {
      const path = write(spec.name, spec.text(ZERO))
      const error = await refusal(readSeedsFrom(path, { format }))
      expect(error.code).toBe('INVALID_ADDRESS')
      expect(error.details).toMatchObject({ file: path, line: spec.line, field: spec.field, value: ZERO })
      expect(error.message).toMatch(/zero address/)
      const read = await readSeedsFrom(path, { format, skipInvalid: true })
      expect(read.seeds.map((s) => s.address)).toEqual([GOOD])
      expect(read.skipped).toEqual([expect.objectContaining({ code: 'INVALID_ADDRESS', file: path, line: spec.line, value: ZERO, reason: expect.stringMatching(/zero address/) })])
      // a good address in its place is read
      expect((await readSeedsFrom(write(spec.name, spec.text(OTHER)), { format })).seeds.map((s) => s.address)).toEqual([GOOD, OTHER])
    })
  }

  it('OFAC SDN: refused with file:line (the SDN reader has no skip mode)', async () => {
    const excerpt = readFileSync(seedFixture('ofac/sdn_advanced_2025-11-19_digital-currency-excerpt.xml'), 'utf8')
    const at = excerpt.indexOf('0x098B716B8Aaf21512996dC57EB0615e2383E2f96')
    expect(at).toBeGreaterThan(0)
    const line = excerpt.slice(0, at).split('\n').length
    const path = write('sdn_advanced.xml', excerpt.replace('0x098B716B8Aaf21512996dC57EB0615e2383E2f96', ZERO))
    const error = await refusal(readSeedsFrom(path, { format: 'sdn' }))
    expect(error.code).toBe('INVALID_ADDRESS')
    expect(error.details).toMatchObject({ file: path, line, value: ZERO })
    expect(error.message).toMatch(/zero address/)
  })

  it('the incident list refuses it only where it would be a seed (a victim row is not a seed)', async () => {
    const path = write(
      'incidents.csv',
      'incident,incident_date,chain,address,address_lc,label,role,source_repo,source_path,source_commit\n' +
        `bybit_2025,2025-02-21,ethereum,${GOOD},${GOOD},Exploiter,attacker,repo,path,abc\n` +
        `bybit_2025,2025-02-21,ethereum,${ZERO},${ZERO},Burn,victim,repo,path,abc\n`,
    )
    expect((await readSeedsFrom(path, { format: 'incidents' })).seeds.map((s) => s.address)).toEqual([GOOD])
  })
})

describe('label text is bounded', () => {
  const long = (length: number) => 'x'.repeat(length)

  it(`seed CSV: a label of ${MAX_LABEL_LENGTH} characters is kept, one more is refused at its line and field; sources and provenance columns too`, async () => {
    const ok = write('seeds.csv', `address,label,source,actor\n${GOOD},${long(MAX_LABEL_LENGTH)},${long(MAX_SOURCE_LENGTH)},${long(MAX_LABEL_LENGTH)}\n`)
    expect((await readSeedsFrom(ok)).seeds).toHaveLength(1)
    for (const [column, row] of [
      ['label', `${OTHER},${long(MAX_LABEL_LENGTH + 1)},src,a`],
      ['source', `${OTHER},l,${long(MAX_SOURCE_LENGTH + 1)},a`],
      ['actor', `${OTHER},l,src,${long(MAX_LABEL_LENGTH + 1)}`],
    ] as const) {
      const path = write('seeds.csv', `address,label,source,actor\n${GOOD},l,src,a\n${row}\n`)
      const error = await refusal(readSeedsFrom(path))
      expect(error.code, column).toBe('MALFORMED_FILE')
      expect(error.details, column).toMatchObject({ file: path, line: 3, field: column })
      expect(error.message.length, column).toBeLessThan(600) // the value is cut in the message
      const read = await readSeedsFrom(path, { skipInvalid: true })
      expect(read.seeds.map((s) => s.address), column).toEqual([GOOD])
      expect(read.skipped, column).toEqual([expect.objectContaining({ code: 'MALFORMED_FILE', file: path, line: 3, field: column })])
    }
  })

  it('a 1 MB label is refused in JSON and TagPack seed files, with the line and field', async () => {
    const huge = long(1 << 20)
    const json = write('seeds.json', `[{"address": "${GOOD}", "label": "ok", "source": "s"},\n {"address": "${OTHER}", "label": "${huge}", "source": "s"}]\n`)
    expect((await refusal(readSeedsFrom(json))).details).toMatchObject({ line: 2, field: '[1].label' })
    const pack = write('pack.yaml', TAGPACK(OTHER, huge))
    expect((await refusal(readSeedsFrom(pack))).details).toMatchObject({ line: 9, field: 'tags[1].label' })
  })

  it('merged sources (" | ") and the provenance list of an exported seed CSV are checked part by part, and the shipped defaults pass', async () => {
    const merged = write('seeds.csv', `address,label,source\n${GOOD},l,${[long(MAX_SOURCE_LENGTH), long(MAX_SOURCE_LENGTH)].join(' | ')}\n`)
    expect((await readSeedsFrom(merged)).seeds).toHaveLength(1)
    const sources = JSON.stringify([{ label: long(MAX_LABEL_LENGTH + 1), source: 's' }, { label: 'b', source: 't' }])
    const provenance = write('seeds.csv', `address,label,source,sources\n${GOOD},l,s | t,"${sources.replace(/"/g, '""')}"\n`)
    expect((await refusal(readSeedsFrom(provenance))).details).toMatchObject({ line: 2, field: 'sources' })
    const defaults = fileURLToPath(new URL('../../data/default-seeds.csv', import.meta.url))
    expect((await readSeedsFrom(defaults)).seeds.length).toBe(125)
  })

  it('service labels: label and source bounded in plain CSV, Etherscan maps and per-label CSVs; skipInvalid skips with a report', async () => {
    const plain = write('labels.csv', `address,label,category,source\n${GOOD},Binance 14,exchange,s\n${OTHER},${long(MAX_LABEL_LENGTH + 1)},exchange,s\n`)
    const error = await refusal(readLabelsFrom(plain))
    expect(error.details).toMatchObject({ file: plain, line: 3, field: 'label' })
    const skipped = await readLabelsFrom(plain, { skipInvalid: true })
    expect(skipped.labels.map((l) => l.address)).toEqual([GOOD])
    expect(skipped.skipped).toEqual([expect.objectContaining({ code: 'MALFORMED_FILE', line: 3, field: 'label' })])

    const source = write('labels.csv', `address,label,category,source\n${GOOD},ok,exchange,${long(MAX_SOURCE_LENGTH + 1)}\n`)
    expect((await refusal(readLabelsFrom(source))).details).toMatchObject({ line: 2, field: 'source' })

    const map = write('labels.json', `{\n  "${GOOD}": {"name": "ok", "labels": ["binance"]},\n  "${OTHER}": {"name": "${long(MAX_LABEL_LENGTH + 1)}", "labels": ["binance"]}\n}\n`)
    expect((await refusal(readLabelsFrom(map))).details).toMatchObject({ line: 3, field: `${OTHER}.name` })

    const perLabel = write('binance.csv', `,Address,Name Tag,Balance,Txn Count\n1,${GOOD},${long(MAX_LABEL_LENGTH + 1)},0,0\n`)
    expect((await refusal(readLabelsFrom(perLabel, { format: 'etherscan-csv', category: 'binance' }))).details).toMatchObject({ line: 2, field: 'Name Tag' })

    const defaults = fileURLToPath(new URL('../../data/default-labels.csv', import.meta.url))
    expect((await readLabelsFrom(defaults)).labels.length).toBeGreaterThan(1000)
  })
})
