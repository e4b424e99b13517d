/**
 * Service label importers: the Etherscan-style JSON map (`{address: {name, labels: [slug]}}`),
 * Etherscan per-label CSVs (`,Address,Name Tag,Balance,Txn Count`, the slug is the file name),
 * plain `address,label,category[,source]` CSVs, `address,nameTag` CSVs (dawsbot/eth-labels; the
 * category from the options or the file name), and TagPacks.
 *
 * Categories come from `label-categories.ts`. All-or-nothing: an invalid address or a malformed
 * file throws an `InputError` naming the file and line (with `skipInvalid`, invalid addresses are
 * passed to `onSkip` instead: dawsbot's phish-hack list holds four addresses a spreadsheet turned
 * into numbers, e.g. `1.4390191554254E+48`).
 */
import { basename } from 'node:path'
import { InputError } from '../errors.ts'
import type { Address, ServiceLabel } from '../types.ts'
import { addressProblem, parseAddress, toChecksumAddress, type Where } from './address.ts'
import { readCsv } from './csv.ts'
import { errorMessage, inputName, lineCounter, readText, type InputOptions, type TextInput } from './input.ts'
import {
  CATEGORY_PRECEDENCE,
  categoryForSlug,
  categoryForSlugs,
  isLabelCategory,
  LABEL_CATEGORIES,
  slugTitle,
  type LabelCategory,
} from './label-categories.ts'
import { parseTagPack, type SkippedEntry, type TagPackOptions } from './lists.ts'
import { labelProblem, shortText, sourceProblem } from './text.ts'

export interface LabelReadOptions extends InputOptions {
  /** Recorded as each label's `source` (the slugs are appended). Default: the file's name. */
  source?: string
  /** Keep only these categories. Default: every category (unmapped slugs are dropped unless `includeUncategorized`). */
  categories?: readonly string[]
  /** Keep addresses whose slugs map to no category, as category `other`. Default false. */
  includeUncategorized?: boolean
  /** Leave out invalid addresses instead of throwing (default false: all-or-nothing); each is passed to `onSkip`. */
  skipInvalid?: boolean
  onSkip?: (entry: SkippedEntry) => void
}

/** The address, or undefined when it is invalid and `skipInvalid` is set. */
function checkAddress(text: string, where: Where & { file: string }, options: LabelReadOptions): Address | undefined {
  const reason = addressProblem(text)
  if (reason === undefined) return text.trim().toLowerCase() as Address
  if (options.skipInvalid !== true) return parseAddress(text, where) // throws INVALID_ADDRESS
  const entry: SkippedEntry = { code: 'INVALID_ADDRESS', file: where.file, value: text, reason }
  if (where.line !== undefined) entry.line = where.line
  if (where.field !== undefined) entry.field = where.field
  options.onSkip?.(entry)
  return undefined
}

/**
 * True when the label and its source are within their bounds (text.ts). Otherwise throws
 * `MALFORMED_FILE` naming file, line and field, or (skipInvalid) reports the entry and answers false.
 */
function checkText(where: { file: string; line?: number }, options: LabelReadOptions, fields: readonly { field: string; value: string; source?: boolean }[]): boolean {
  for (const { field, value, source } of fields) {
    const reason = source === true ? sourceProblem(value) : labelProblem(value)
    if (reason === undefined) continue
    const entry: SkippedEntry = { code: 'MALFORMED_FILE', file: where.file, field, value: shortText(value), reason }
    if (where.line !== undefined) entry.line = where.line
    if (options.skipInvalid !== true) throw new InputError('MALFORMED_FILE', `${field} is ${reason}`, { file: where.file, ...(where.line === undefined ? {} : { line: where.line }), field, value: entry.value, reason })
    options.onSkip?.(entry)
    return false
  }
  return true
}

/** Etherscan-style JSON map `{ "0x…": { "name": "Binance 14", "labels": ["binance"] } }`. */
export async function readEtherscanLabelMap(input: TextInput, options: LabelReadOptions = {}): Promise<ServiceLabel[]> {
  const file = inputName(input, options)
  const text = await readText(input, options)
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    throw new InputError('MALFORMED_FILE', `malformed JSON: ${errorMessage(error)}`, { file })
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InputError('MALFORMED_FILE', 'expected a JSON object mapping addresses to {name, labels}', { file, line: 1 })
  }
  const source = options.source ?? basename(file)
  const keep = categoryFilter(options)
  const out: ServiceLabel[] = []
  const lineOf = lineCounter(text)
  let cursor = 0
  for (const [key, value] of Object.entries(data)) {
    const found = text.indexOf(`"${key}"`, cursor)
    if (found !== -1) cursor = found + key.length
    const line = found === -1 ? undefined : lineOf(found)
    const where = { file, ...(line === undefined ? {} : { line }), field: key }
    const address = checkAddress(key, where, options)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new InputError('MALFORMED_FILE', 'expected {name, labels}', where)
    }
    if (address === undefined) continue
    const { name, labels } = value as { name?: unknown; labels?: unknown }
    if (!Array.isArray(labels) || !labels.every((l): l is string => typeof l === 'string')) {
      throw new InputError('MALFORMED_FILE', 'labels must be an array of strings', { ...where, field: `${key}.labels` })
    }
    if (name !== undefined && typeof name !== 'string') throw new InputError('MALFORMED_FILE', 'name must be a string', { ...where, field: `${key}.name` })
    const category = categoryForSlugs(labels) ?? (options.includeUncategorized === true ? 'other' : undefined)
    if (category === undefined || !keep(category)) continue
    const mainSlug = labels.find((slug) => categoryForSlug(slug) === category) ?? labels[0] ?? ''
    const label = name !== undefined && name.trim() !== '' ? name.trim() : slugTitle(mainSlug)
    const labelSource = labels.length > 0 ? `${source}: ${labels.join(',')}` : source
    if (!checkText(where, options, [{ field: name !== undefined && name.trim() !== '' ? `${key}.name` : `${key}.labels`, value: label }, { field: `${key}.labels`, value: labelSource, source: true }])) continue
    out.push({ address, label, category, source: labelSource })
  }
  return out
}

/**
 * Etherscan per-label CSV (`,Address,Name Tag,Balance,Txn Count`) or dawsbot's `address,nameTag`:
 * every row gets the category of `slug` (default: the file name, `binance-deposit.csv` →
 * `binance-deposit`, `exchange_all.csv` → `exchange`). In a `phish-hack` list, names that say
 * "phish" are `phishing`, the others `hack`.
 */
export async function readEtherscanLabelCsv(input: TextInput, options: LabelReadOptions & { slug?: string } = {}): Promise<ServiceLabel[]> {
  const file = inputName(input, options)
  const slug = options.slug ?? slugFromFile(file)
  const category = categoryForSlug(slug) ?? (options.includeUncategorized === true ? 'other' : undefined)
  const table = await readCsv(input, options)
  const lower = table.header.map((h) => h.toLowerCase().replace(/[\s_]/g, ''))
  const addressCol = lower.indexOf('address')
  const nameCol = lower.findIndex((h) => h === 'nametag' || h === 'name' || h === 'label')
  if (addressCol === -1) throw new InputError('MALFORMED_FILE', 'CSV header has no Address column', { file, line: 1, field: 'address' })
  const keep = categoryFilter(options)
  const source = `${options.source ?? basename(file)}: ${slug}`
  const sourceProblemText = sourceProblem(source)
  if (sourceProblemText !== undefined) throw new InputError('MALFORMED_FILE', `source is ${sourceProblemText}`, { file, field: 'source', value: shortText(source) })
  const out: ServiceLabel[] = []
  for await (const { cells, line } of table.rows) {
    const address = checkAddress(cells[addressCol] ?? '', { file, line, field: table.header[addressCol] ?? 'address' }, options)
    if (address === undefined || category === undefined) continue
    const name = nameCol === -1 ? '' : (cells[nameCol] ?? '')
    const rowCategory: LabelCategory = category === 'hack' && /phish/i.test(name) ? 'phishing' : category
    if (!keep(rowCategory)) continue
    if (!checkText({ file, line }, options, [{ field: table.header[nameCol] ?? 'name', value: name }])) continue
    out.push({ address, label: name !== '' ? name : slugTitle(slug), category: rowCategory, source })
  }
  return out
}

/**
 * Plain `address,label,category[,source]` CSV. `category` must be one of `LABEL_CATEGORIES` or a
 * known slug (mapped); without a category column, `options.category` applies to every row.
 */
export async function readLabelCsv(input: TextInput, options: LabelReadOptions & { category?: string } = {}): Promise<ServiceLabel[]> {
  const file = inputName(input, options)
  const table = await readCsv(input, options)
  const lower = table.header.map((h) => h.toLowerCase())
  const col = (name: string): number => lower.indexOf(name)
  const [addressCol, labelCol, categoryCol, sourceCol] = [col('address'), col('label'), col('category'), col('source')]
  if (addressCol === -1) throw new InputError('MALFORMED_FILE', 'CSV header has no "address" column', { file, line: 1, field: 'address' })
  if (labelCol === -1) throw new InputError('MALFORMED_FILE', 'CSV header has no "label" column', { file, line: 1, field: 'label' })
  if (categoryCol === -1 && options.category === undefined) {
    throw new InputError('MALFORMED_FILE', 'CSV header has no "category" column (and no default category)', { file, line: 1, field: 'category' })
  }
  const keep = categoryFilter(options)
  const defaultSource = options.source ?? basename(file)
  const out: ServiceLabel[] = []
  for await (const { cells, line } of table.rows) {
    const address = checkAddress(cells[addressCol] ?? '', { file, line, field: 'address' }, options)
    const label = cells[labelCol] ?? ''
    if (label === '') throw new InputError('MALFORMED_FILE', 'missing label', { file, line, field: 'label' })
    const rawCategory = (categoryCol === -1 ? undefined : cells[categoryCol]) || options.category || ''
    const category = toCategory(rawCategory)
    if (category === undefined) {
      throw new InputError('MALFORMED_FILE', `unknown category (expected one of ${LABEL_CATEGORIES.join(', ')}, or a known label slug)`, {
        file,
        line,
        field: 'category',
        value: rawCategory,
      })
    }
    if (address === undefined || !keep(category)) continue
    const source = sourceCol === -1 ? '' : (cells[sourceCol] ?? '')
    const labelSource = source !== '' ? source : defaultSource
    if (!checkText({ file, line }, options, [{ field: table.header[labelCol] ?? 'label', value: label }, { field: sourceCol === -1 ? 'source' : (table.header[sourceCol] ?? 'source'), value: labelSource, source: true }])) continue
    out.push({ address, label, category, source: labelSource })
  }
  return out
}

/** Service labels from a TagPack's Ethereum tags that have a category (mapped like slugs). */
export async function readTagPackLabels(input: TextInput, options: TagPackOptions & LabelReadOptions = {}): Promise<ServiceLabel[]> {
  // `categories` filters mapped categories here, not the TagPack's raw category field
  const { categories: _categories, ...tagPackOptions } = options
  const pack = await parseTagPack(input, tagPackOptions)
  for (const entry of pack.skipped) options.onSkip?.(entry)
  const keep = categoryFilter(options)
  const out: ServiceLabel[] = []
  for (const tag of pack.tags) {
    const category = tag.category === undefined ? undefined : toCategory(tag.category)
    if (category === undefined || !keep(category)) continue
    out.push({ address: tag.address, label: tag.label, category, source: tag.source })
  }
  return out
}

/**
 * Reads a label file by its shape: `.json` → Etherscan map; `.yaml`/`.yml` → TagPack; `.csv` →
 * plain when the header has `label` and `category`, otherwise Etherscan/dawsbot per-label.
 */
export async function readLabelFile(path: string, options: LabelReadOptions & { slug?: string; category?: string } = {}): Promise<ServiceLabel[]> {
  const name = path.toLowerCase().replace(/\.(gz|bz2)$/, '')
  if (name.endsWith('.json')) return readEtherscanLabelMap(path, options)
  if (name.endsWith('.yaml') || name.endsWith('.yml')) return readTagPackLabels(path, options)
  if (name.endsWith('.csv')) {
    const { header, close } = await readCsv(path, options)
    close()
    const lower = header.map((h) => h.toLowerCase())
    if (lower.includes('label') && (lower.includes('category') || options.category !== undefined)) return readLabelCsv(path, options)
    return readEtherscanLabelCsv(path, options)
  }
  throw new InputError('MALFORMED_FILE', 'unknown label file format (expected .json, .csv, .yaml)', { file: options.file ?? path })
}

/**
 * One label per address: the one whose category comes first in `CATEGORY_PRECEDENCE` (first on a
 * tie); `source` lists every distinct source, joined by ` | `. Order: first appearance.
 */
export function mergeLabels(labels: readonly ServiceLabel[]): ServiceLabel[] {
  const byAddress = new Map<Address, { best: ServiceLabel; sources: string[] }>()
  const rank = (category: string): number => {
    const i = (CATEGORY_PRECEDENCE as readonly string[]).indexOf(category)
    return i === -1 ? CATEGORY_PRECEDENCE.length : i
  }
  for (const label of labels) {
    const address = label.address.toLowerCase() as Address
    const entry = byAddress.get(address)
    if (entry === undefined) {
      byAddress.set(address, { best: { ...label, address }, sources: label.source === undefined ? [] : [label.source] })
      continue
    }
    if (label.source !== undefined && !entry.sources.includes(label.source)) entry.sources.push(label.source)
    if (rank(label.category) < rank(entry.best.category)) entry.best = { ...label, address }
  }
  return [...byAddress.values()].map(({ best, sources }) => {
    const merged: ServiceLabel = { address: best.address, label: best.label, category: best.category }
    if (sources.length > 0) merged.source = sources.join(' | ')
    return merged
  })
}

/** Labels as CSV rows (header first: address (EIP-55), label, category, source) that {@link readLabelCsv} reads back. */
export function labelsToCsvRows(labels: readonly ServiceLabel[]): string[][] {
  return [['address', 'label', 'category', 'source'], ...labels.map((l) => [toChecksumAddress(l.address), l.label, l.category, l.source ?? ''])]
}

function toCategory(value: string): LabelCategory | undefined {
  const v = value.trim().toLowerCase()
  if (isLabelCategory(v)) return v
  return categoryForSlug(v)
}

function categoryFilter(options: LabelReadOptions): (category: string) => boolean {
  if (options.categories === undefined) return () => true
  const wanted = new Set(options.categories.map((c) => c.toLowerCase()))
  return (category) => wanted.has(category)
}

function slugFromFile(file: string): string {
  return basename(file)
    .toLowerCase()
    .replace(/\.(gz|bz2)$/, '')
    .replace(/\.csv$/, '')
    .replace(/_all$/, '')
}
