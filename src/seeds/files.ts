import { readFile } from 'node:fs/promises'
import { parse } from 'csv-parse/sync'
import { InputError } from '../errors.ts'
import type { Seed, ServiceLabel } from '../types.ts'
import { parseAddress } from './address.ts'

/**
 * The CLI's seed and label files (the contract of `exposure seeds import` / `labels import`):
 * - seeds: CSV with header `address,label,source` (further columns kept as provenance in
 *   `extra`), or a JSON array of objects with those keys;
 * - labels: CSV with header `address,label,category` (a `source` column is kept).
 * All-or-nothing: the first bad row throws an InputError naming file, line, field and value.
 */
export interface SeedFile {
  seeds: Seed[]
}

export interface LabelFile {
  labels: ServiceLabel[]
}

async function readOrFail(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (error) {
    throw new InputError('FILE_NOT_FOUND', `cannot read ${file}: ${(error as Error).message}`, { file }, { cause: error })
  }
}

interface Row {
  line: number
  values: Record<string, string>
}

function csvRows(text: string, file: string, required: readonly string[]): Row[] {
  let records: { record: string[]; info: { lines: number } }[]
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, info: true, relax_column_count: false, trim: true }) as unknown as typeof records
  } catch (error) {
    const e = error as { message: string; lines?: number }
    throw new InputError('MALFORMED_FILE', `malformed CSV: ${e.message}`, { file, ...(e.lines === undefined ? {} : { line: e.lines }) }, { cause: error })
  }
  const [header, ...body] = records
  if (!header) throw new InputError('MALFORMED_FILE', 'empty file: expected a header row', { file })
  const names = header.record.map((n) => n.trim().toLowerCase())
  const missing = required.filter((r) => !names.includes(r))
  if (missing.length > 0) throw new InputError('MALFORMED_FILE', `header lacks column(s) ${missing.join(', ')} (expected ${required.join(',')})`, { file, line: header.info.lines, field: missing.join(',') })
  return body.map(({ record, info }) => ({ line: info.lines, values: Object.fromEntries(names.map((n, i) => [n, record[i] ?? ''])) }))
}

function requireText(row: Row, field: string, file: string): string {
  const value = row.values[field] ?? ''
  if (value === '') throw new InputError('MALFORMED_FILE', `empty ${field}`, { file, line: row.line, field })
  return value
}

export async function readSeedFile(file: string): Promise<SeedFile> {
  const text = await readOrFail(file)
  if (file.toLowerCase().endsWith('.json') || text.trimStart().startsWith('[')) return { seeds: seedsFromJson(text, file) }
  const rows = csvRows(text, file, ['address', 'label', 'source'])
  return {
    seeds: rows.map((row) => {
      const { address, label, source, ...extra } = row.values
      const seed: Seed = {
        address: parseAddress(address ?? '', { file, line: row.line, field: 'address' }),
        label: requireText(row, 'label', file),
        source: requireText(row, 'source', file),
      }
      const kept = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== ''))
      if (Object.keys(kept).length > 0) seed.extra = kept
      return seed
    }),
  }
}

function seedsFromJson(text: string, file: string): Seed[] {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new InputError('MALFORMED_FILE', `invalid JSON: ${(error as Error).message}`, { file }, { cause: error })
  }
  if (!Array.isArray(value)) throw new InputError('MALFORMED_FILE', 'expected a JSON array of {address, label, source} objects', { file })
  return value.map((item: unknown, index) => {
    const where = { file, field: `[${index}]` }
    if (typeof item !== 'object' || item === null) throw new InputError('MALFORMED_FILE', `element ${index} is not an object`, where)
    const { address, label, source, ...extra } = item as Record<string, unknown>
    for (const [field, v] of [['label', label], ['source', source]] as const) {
      if (typeof v !== 'string' || v === '') throw new InputError('MALFORMED_FILE', `element ${index}: ${field} must be a non-empty string`, { file, field: `[${index}].${field}` })
    }
    const seed: Seed = { address: parseAddress(String(address ?? ''), { file, field: `[${index}].address` }), label: label as string, source: source as string }
    const kept = Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== null && v !== undefined && v !== '').map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
    if (Object.keys(kept).length > 0) seed.extra = kept
    return seed
  })
}

export async function readLabelFile(file: string): Promise<LabelFile> {
  const text = await readOrFail(file)
  const rows = csvRows(text, file, ['address', 'label', 'category'])
  return {
    labels: rows.map((row) => {
      const label: ServiceLabel = {
        address: parseAddress(row.values.address ?? '', { file, line: row.line, field: 'address' }),
        label: requireText(row, 'label', file),
        category: requireText(row, 'category', file).toLowerCase(),
      }
      if (row.values.source) label.source = row.values.source
      return label
    }),
  }
}
