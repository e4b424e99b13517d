import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import Papa from 'papaparse'
import { afterAll, describe, expect, it } from 'vitest'
import { splitEtlFileRanges } from '../../src/sources/etl-ranges.ts'

/**
 * Byte ranges of large etl files (sources/etl-ranges.ts): every range starts at a record (never in
 * a quoted field holding line breaks), the ranges cover the file after its header exactly, each
 * knows the physical line it starts on, and the header line travels with it.
 */
const dir = await mkdtemp(join(tmpdir(), 'etl-ranges-'))
afterAll(() => rm(dir, { recursive: true, force: true }))

let files = 0
async function fileOf(text: string, name = `f${files++}.csv`): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, text)
  return file
}

/** A CSV: header, then rows whose third field is sometimes quoted with line breaks, commas and quotes in it. */
const csv = fc
  .record({
    rows: fc.array(fc.tuple(fc.nat(1_000_000), fc.constantFrom('plain', '"a\nb"', '"x,""y""\nz\n"', '""', 'w'), fc.boolean()), { minLength: 1, maxLength: 80 }),
    crlf: fc.boolean(),
    trailing: fc.boolean(),
  })
  .map(({ rows, crlf, trailing }) => {
    const eol = crlf ? '\r\n' : '\n'
    const lines = ['id,value,note', ...rows.map(([n, note, empty]) => `${n},${empty ? '' : n * 7},${note}`)]
    const text = lines.join(eol) + (trailing ? eol : '')
    // Where each record starts, in bytes (what the splitter must find by itself).
    const starts: number[] = []
    let at = Buffer.byteLength(lines[0]! + eol)
    for (const line of lines.slice(1)) {
      starts.push(at)
      at += Buffer.byteLength(line + eol)
    }
    return { text, records: rows.length, starts }
  })

/** The cuts a greedy splitter makes at record starts: a new range once the current one holds rangeBytes. */
function expectedStarts(starts: readonly number[], rangeBytes: number): number[] {
  const out = [starts[0]!]
  for (const s of starts.slice(1)) if (s - out[out.length - 1]! >= rangeBytes) out.push(s)
  return out
}

describe('splitEtlFileRanges', () => {
  it('cuts only between records, covers everything after the header, and numbers each range\'s first line', async () => {
    await fc.assert(
      fc.asyncProperty(csv, fc.integer({ min: 1, max: 200 }), async ({ text, records, starts }, rangeBytes) => {
        const file = await fileOf(text)
        const bytes = Buffer.from(text)
        const ranges = await splitEtlFileRanges(file, bytes.length, rangeBytes)
        const expected = bytes.length <= rangeBytes ? [] : expectedStarts(starts, rangeBytes)
        // Left whole exactly when it is small or would be one range.
        if (expected.length <= 1) {
          expect(ranges).toBeNull()
          return
        }
        expect(ranges?.map((r) => r.start)).toEqual(expected)
        if (ranges === null) return
        const header = ranges[0]!.header
        expect(text.startsWith(header)).toBe(true)
        expect(ranges[0]!.start).toBe(Buffer.byteLength(header))
        expect(ranges[ranges.length - 1]!.end).toBe(bytes.length)
        let parsed = 0
        ranges.forEach((r, i) => {
          if (i > 0) expect(r.start).toBe(ranges[i - 1]!.end)
          expect(r.header).toBe(header)
          expect(r.firstLine).toBe(bytes.subarray(0, r.start).toString().split('\n').length)
          // Header plus the range parses as whole records, as many as the range holds.
          const result = Papa.parse<string[]>(header + bytes.subarray(r.start, r.end).toString(), { skipEmptyLines: true })
          expect(result.errors).toEqual([])
          for (const record of result.data.slice(1)) expect(record.length).toBe(3)
          parsed += result.data.length - 1
        })
        expect(parsed).toBe(records)
      }),
      { numRuns: 300, seed: 20261202 },
    )
  })

  it('leaves whole: gzip files, files no larger than the range, bare-CR line ends, a file of one range', async () => {
    const big = 'id,value\n' + Array.from({ length: 100 }, (_, i) => `${i},${i}`).join('\n') + '\n'
    expect(await splitEtlFileRanges(await fileOf(big, 'x.csv.gz'), big.length, 16)).toBeNull()
    expect(await splitEtlFileRanges(await fileOf(big), big.length, big.length)).toBeNull()
    expect(await splitEtlFileRanges(await fileOf(big), big.length, 0)).toBeNull()
    const cr = big.replaceAll('\n', '\r')
    expect(await splitEtlFileRanges(await fileOf(cr), cr.length, 16)).toBeNull()
    const ranges = await splitEtlFileRanges(await fileOf(big), big.length, 100)
    expect(ranges!.length).toBeGreaterThan(5)
    // A row that fills more than the range size ends the range after it.
    const oneLong = `id,value\n1,"${'a'.repeat(500)}"\n`
    expect(await splitEtlFileRanges(await fileOf(oneLong), oneLong.length, 10)).toBeNull()
  })
})
