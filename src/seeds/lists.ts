/**
 * Seed list importers: plain lists (CSV, JSON, TXT), the FBI's Bybit list, the Lazarus incident
 * list, and GraphSense TagPacks.
 *
 * Every importer is all-or-nothing: it answers every seed of the file or throws an `InputError`
 * naming the file, line and field (`MALFORMED_FILE`, `INVALID_ADDRESS`). With `skipInvalid: true`
 * an invalid address, the zero address, or a label, source or provenance field beyond its bound
 * (text.ts) is not thrown but reported in `skipped` (a malformed file still throws). The zero
 * address is never a seed: it is where mints come from and burns go.
 *
 * Every seed keeps its provenance in `extra` (keys used throughout the library):
 * - `actor`: who the address is attributed to ("Lazarus Group", an OFAC primary name, a TagPack actor)
 * - `incident`: e.g. `bybit_2025`; `role`: the incident role; `chain`: the list's chain name
 * - `listed`: when the source listed it (`YYYY-MM-DD`; for the incident list, the incident date)
 * - `confidence`: GraphSense level 0–100 as a decimal string; `confidenceKind`: its GraphSense id
 *   (OFAC and FBI `authority_data` 60, incident research `forensic_investigation` 70)
 * Columns other than address/label/source in a CSV (keys in JSON) are kept verbatim.
 */
import { basename } from 'node:path'
import { JSON_SCHEMA, load, YAMLException } from 'js-yaml'
import { InputError } from '../errors.ts'
import type { Address, Seed } from '../types.ts'
import { addressProblem, seedAddressProblem, toChecksumAddress } from './address.ts'
import { CONFIDENCE_LEVELS, confidenceExtra, isConfidenceKind } from './confidence.ts'
import { readCsv } from './csv.ts'
import { errorMessage, inputName, lineAt, lineCounter, readText, readTextChunks, type InputOptions, type TextInput } from './input.ts'
import { labelProblem, seedTextProblem, shortText, sourceProblem } from './text.ts'

export { mergeSeeds, provenancesOf, SOURCE_SEPARATOR } from './merge.ts'

/**
 * An entry that `skipInvalid` left out, with where it was: an invalid address (or the zero address
 * as a seed), or a label, source or provenance field beyond its bound (`MALFORMED_FILE`, see text.ts).
 */
export interface SkippedEntry {
  code: 'INVALID_ADDRESS' | 'MALFORMED_FILE'
  file: string
  line?: number
  field?: string
  value: string
  reason: string
}

export interface SeedList {
  seeds: Seed[]
  skipped: SkippedEntry[]
}

export interface SeedListOptions extends InputOptions {
  /** Report invalid addresses in `skipped` instead of throwing. Default false (all-or-nothing). */
  skipInvalid?: boolean
  /** Label for entries that have none (TXT lines, JSON strings, empty CSV cells). */
  label?: string
  /** Source for entries that have none. */
  source?: string
  /** Added to every seed's `extra` (values in the file win). */
  extra?: Record<string, string>
}

// ---------------------------------------------------------------------------------------------
// shared helpers

interface Context {
  file: string
  options: SeedListOptions
  skipped: SkippedEntry[]
}

function context(input: TextInput, options: SeedListOptions): Context {
  return { file: inputName(input, options), options, skipped: [] }
}

/**
 * The lowercase address, or undefined when it is invalid and skipped. `seed`: the address is read
 * as a seed, so the zero address is refused too.
 */
function checkAddress(ctx: Context, text: string, line: number | undefined, field: string, seed = false): Address | undefined {
  const reason = seed ? seedAddressProblem(text) : addressProblem(text)
  if (reason === undefined) return text.trim().toLowerCase() as Address
  return reject(ctx, 'INVALID_ADDRESS', `invalid address: ${reason}`, { line, field, value: text, reason })
}

/** Throws the problem, or (skipInvalid) reports it in `skipped` and answers undefined. */
function reject(ctx: Context, code: SkippedEntry['code'], message: string, where: { line: number | undefined; field: string; value: string; reason: string }): undefined {
  const entry: SkippedEntry = { code, file: ctx.file, field: where.field, value: where.value, reason: where.reason }
  if (where.line !== undefined) entry.line = where.line
  if (ctx.options.skipInvalid === true) {
    ctx.skipped.push(entry)
    return undefined
  }
  throw new InputError(code, message, {
    file: ctx.file,
    ...(where.line === undefined ? {} : { line: where.line }),
    field: where.field,
    value: where.value,
    reason: where.reason,
  })
}

/** The seed, or undefined when a text field is out of bounds and skipped (see text.ts); `field` names a seed field as the file does. */
function bounded(ctx: Context, seed: Seed, line: number | undefined, field: (key: string) => string = (key) => key): Seed | undefined {
  const problem = seedTextProblem(seed)
  if (problem === undefined) return seed
  return reject(ctx, 'MALFORMED_FILE', `${problem.field} is ${problem.reason}`, { line, field: field(problem.field), value: problem.value, reason: problem.reason })
}

function malformed(ctx: Context, message: string, details: { line?: number; field?: string; value?: string } = {}): InputError {
  return new InputError('MALFORMED_FILE', message, { file: ctx.file, ...details })
}

function withDefault(value: string | undefined, fallback: string | undefined): string | undefined {
  return value !== undefined && value !== '' ? value : fallback
}

function stringify(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  return JSON.stringify(value)
}

function extension(path: string): string {
  const name = path.toLowerCase().replace(/\.(gz|bz2)$/, '')
  const dot = name.lastIndexOf('.')
  return dot === -1 ? '' : name.slice(dot + 1)
}

// ---------------------------------------------------------------------------------------------
// plain lists

/**
 * CSV with a header naming `address` and usually `label` and `source` (case-insensitive); other
 * columns are kept as `extra` under their header name (empty cells are left out).
 */
export async function readSeedCsv(input: TextInput, options: SeedListOptions = {}): Promise<SeedList> {
  const ctx = context(input, options)
  const table = await readCsv(input, options)
  const lower = table.header.map((h) => h.toLowerCase())
  const duplicate = lower.find((h, i) => lower.indexOf(h) !== i)
  if (duplicate !== undefined) throw malformed(ctx, 'duplicate column in CSV header', { line: 1, field: duplicate })
  const col = (name: string): number => lower.indexOf(name)
  const addressCol = col('address')
  const labelCol = col('label')
  const sourceCol = col('source')
  if (addressCol === -1) throw malformed(ctx, 'CSV header has no "address" column', { line: 1, field: 'address' })
  if (labelCol === -1 && options.label === undefined) throw malformed(ctx, 'CSV header has no "label" column (and no default label)', { line: 1, field: 'label' })
  if (sourceCol === -1 && options.source === undefined) throw malformed(ctx, 'CSV header has no "source" column (and no default source)', { line: 1, field: 'source' })
  const extraCols = table.header.map((name, i) => ({ name, i })).filter(({ i }) => i !== addressCol && i !== labelCol && i !== sourceCol)

  const seeds: Seed[] = []
  for await (const { cells, line } of table.rows) {
    const address = checkAddress(ctx, cells[addressCol] ?? '', line, table.header[addressCol] ?? 'address', true)
    const label = withDefault(labelCol === -1 ? undefined : cells[labelCol], options.label)
    const source = withDefault(sourceCol === -1 ? undefined : cells[sourceCol], options.source)
    if (label === undefined) throw malformed(ctx, 'missing label', { line, field: 'label' })
    if (source === undefined) throw malformed(ctx, 'missing source', { line, field: 'source' })
    if (address === undefined) continue
    const extra: Record<string, string> = { ...options.extra }
    for (const { name, i } of extraCols) {
      const value = cells[i]
      if (value !== undefined && value !== '') extra[name] = value
    }
    const checked = bounded(ctx, seed(address, label, source, extra), line, (key) => (key === 'label' ? (table.header[labelCol] ?? key) : key === 'source' ? (table.header[sourceCol] ?? key) : key))
    if (checked !== undefined) seeds.push(checked)
  }
  return { seeds, skipped: ctx.skipped }
}

/**
 * JSON array of objects `{address, label, source, ...extra}` (other keys kept as `extra`, non-strings
 * as JSON), or of address strings (label and source from the options).
 */
export async function readSeedJson(input: TextInput, options: SeedListOptions = {}): Promise<SeedList> {
  const ctx = context(input, options)
  const text = await readText(input, options)
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    const line = jsonErrorLine(text, error)
    throw malformed(ctx, `malformed JSON: ${errorMessage(error)}`, line === undefined ? {} : { line })
  }
  if (!Array.isArray(data)) throw malformed(ctx, 'expected a JSON array of seeds', { line: 1 })
  const seeds: Seed[] = []
  const lineOf = lineCounter(text)
  let cursor = 0
  for (const [index, item] of data.entries()) {
    const where = `[${index}]`
    let fields: Record<string, unknown>
    if (typeof item === 'string') fields = { address: item }
    else if (item !== null && typeof item === 'object' && !Array.isArray(item)) fields = item as Record<string, unknown>
    else throw malformed(ctx, 'expected an object or an address string', { field: where })
    const { address: rawAddress, label: rawLabel, source: rawSource, ...rest } = fields
    if (typeof rawAddress !== 'string') throw malformed(ctx, 'missing or non-string address', { field: `${where}.address` })
    // JSON.parse gives no positions: find the address text after the previous one
    const found = text.indexOf(rawAddress, cursor)
    const line = found === -1 ? undefined : lineOf(found)
    if (found !== -1) cursor = found + rawAddress.length
    const address = checkAddress(ctx, rawAddress, line, `${where}.address`, true)
    const label = withDefault(typeof rawLabel === 'string' ? rawLabel : stringify(rawLabel), options.label)
    const source = withDefault(typeof rawSource === 'string' ? rawSource : stringify(rawSource), options.source)
    const at = line === undefined ? {} : { line }
    if (label === undefined) throw malformed(ctx, 'missing label', { ...at, field: `${where}.label` })
    if (source === undefined) throw malformed(ctx, 'missing source', { ...at, field: `${where}.source` })
    if (address === undefined) continue
    const extra: Record<string, string> = { ...options.extra }
    for (const [key, value] of Object.entries(rest)) {
      const v = stringify(value)
      if (v !== undefined && v !== '') extra[key] = v
    }
    const checked = bounded(ctx, seed(address, label, source, extra), line, (key) => `${where}.${key}`)
    if (checked !== undefined) seeds.push(checked)
  }
  return { seeds, skipped: ctx.skipped }
}

/**
 * One address per line; `#` starts a comment (whole line or after the address); blank lines are
 * skipped. Label default: the file name; source default: the file.
 */
export async function readSeedTxt(input: TextInput, options: SeedListOptions = {}): Promise<SeedList> {
  const ctx = context(input, options)
  const label = options.label ?? basename(ctx.file)
  const source = options.source ?? ctx.file
  const seeds: Seed[] = []
  let lineNo = 0
  let rest = ''
  const handle = (raw: string): void => {
    lineNo += 1
    const hash = raw.indexOf('#')
    const text = (hash === -1 ? raw : raw.slice(0, hash)).trim()
    if (text === '') return
    const address = checkAddress(ctx, text, lineNo, 'address', true)
    if (address === undefined) return
    const checked = bounded(ctx, seed(address, label, source, { ...options.extra }), lineNo)
    if (checked !== undefined) seeds.push(checked)
  }
  for await (const chunk of readTextChunks(input, options)) {
    const lines = (rest + chunk).split(/\r?\n/)
    rest = lines.pop() ?? ''
    for (const line of lines) handle(line)
  }
  if (rest !== '') handle(rest)
  return { seeds, skipped: ctx.skipped }
}

/** Reads a seed list by its extension: `.csv`, `.json`, `.txt`/`.lst`, `.yaml`/`.yml` (TagPack); `.gz`/`.bz2` allowed. */
export async function readSeedFile(path: string, options: SeedListOptions = {}): Promise<SeedList> {
  switch (extension(path)) {
    case 'csv':
      return readSeedCsv(path, options)
    case 'json':
      return readSeedJson(path, options)
    case 'txt':
    case 'lst':
      return readSeedTxt(path, options)
    case 'yaml':
    case 'yml':
      return readTagPack(path, options)
    default:
      throw new InputError('MALFORMED_FILE', 'unknown seed list format (expected .csv, .json, .txt, .yaml)', { file: options.file ?? path })
  }
}

function seed(address: Address, label: string, source: string, extra: Record<string, string>): Seed {
  const s: Seed = { address, label, source }
  if (Object.keys(extra).length > 0) s.extra = extra
  return s
}

function jsonErrorLine(text: string, error: unknown): number | undefined {
  const message = errorMessage(error)
  const line = /\(line (\d+) column \d+\)/.exec(message)
  if (line?.[1] !== undefined) return Number(line[1])
  const position = /at position (\d+)/.exec(message)
  if (position?.[1] !== undefined) return lineAt(text, Number(position[1]))
  return undefined
}

/** Order of the well-known `extra` columns when seeds are written as CSV (others follow, sorted; `sources` last). */
export const SEED_EXTRA_COLUMNS = [
  'actor',
  'incident',
  'listed',
  'confidence',
  'confidenceKind',
  'role',
  'chain',
  'program',
  'profileId',
  'designated',
  'featureType',
] as const

/**
 * Seeds as CSV rows (header first) that {@link readSeedCsv} reads back: address (EIP-55), label,
 * source, then every `extra` key that any seed has (empty cells where a seed has none).
 */
export function seedsToCsvRows(seeds: readonly Seed[]): string[][] {
  const keys = new Set(seeds.flatMap((s) => Object.keys(s.extra ?? {})))
  const known = SEED_EXTRA_COLUMNS.filter((k) => keys.has(k))
  const others = [...keys].filter((k) => !(SEED_EXTRA_COLUMNS as readonly string[]).includes(k) && k !== 'sources').sort()
  const columns = [...known, ...others, ...(keys.has('sources') ? ['sources'] : [])]
  return [
    ['address', 'label', 'source', ...columns],
    ...seeds.map((s) => [toChecksumAddress(s.address), s.label, s.source, ...columns.map((k) => s.extra?.[k] ?? '')]),
  ]
}

// ---------------------------------------------------------------------------------------------
// FBI PSA on the Bybit theft

/** Provenance of the FBI's Bybit list (PSA I-022625-PSA, 2025-02-26). */
export const FBI_BYBIT_PROVENANCE = {
  label: 'Lazarus Group (TraderTraitor), Bybit theft: FBI PSA I-022625-PSA',
  source: 'FBI PSA I-022625-PSA (2025-02-26) https://www.ic3.gov/PSA/2025/PSA250226',
  extra: {
    actor: 'Lazarus Group',
    incident: 'bybit_2025',
    listed: '2025-02-26',
    ...confidenceExtra('authority_data'),
  },
} as const

/** The FBI's list of the Bybit thieves' Ethereum addresses (TXT, one address per line). */
export async function readFbiBybitList(input: TextInput, options: Omit<SeedListOptions, 'label' | 'source'> = {}): Promise<SeedList> {
  return readSeedTxt(input, {
    ...options,
    label: FBI_BYBIT_PROVENANCE.label,
    source: FBI_BYBIT_PROVENANCE.source,
    extra: { ...FBI_BYBIT_PROVENANCE.extra, ...options.extra },
  })
}

// ---------------------------------------------------------------------------------------------
// Lazarus incident list (lazarus_incident_addresses_tayvano.csv)

/**
 * Roles in the incident list. Seeds are the adversary's own wallets: `attacker` by default;
 * `mixer_depositor` (the thief's wallets that paid into Tornado Cash) and `mixer_withdrawer`
 * (withdrawals attributed by amount and timing: weaker) only when asked. Never seeds: `victim`
 * (the robbed exchange's wallets) and `cex_deposit` (deposit addresses of an exchange: the
 * exchange's infrastructure). Depositors and withdrawers are ground truth for the walk: they
 * should come out a few hops from the attackers.
 */
export const INCIDENT_ROLES = ['attacker', 'mixer_depositor', 'mixer_withdrawer', 'cex_deposit', 'victim'] as const
export type IncidentRole = (typeof INCIDENT_ROLES)[number]
export type IncidentSeedRole = Exclude<IncidentRole, 'victim' | 'cex_deposit'>
export const NEVER_SEED_ROLES: readonly IncidentRole[] = ['victim', 'cex_deposit']
export const DEFAULT_SEED_ROLES: readonly IncidentSeedRole[] = ['attacker']

const INCIDENT_COLUMNS = ['incident', 'incident_date', 'chain', 'address', 'label', 'role', 'source_repo', 'source_path', 'source_commit'] as const
/** Free-text columns of the incident list, bounded like every label and source (text.ts). */
const INCIDENT_TEXT_COLUMNS = ['incident', 'chain', 'label', 'source_repo', 'source_path', 'source_commit'] as const

/** One row of the incident list. */
export interface IncidentAddress {
  address: Address
  /** As written in the list. */
  value: string
  incident: string
  incidentDate: string
  /** ethereum, polygon, bsc, … (EVM chains; the same key controls the address on all of them). */
  chain: string
  label: string
  role: IncidentRole
  sourceRepo: string
  sourcePath: string
  sourceCommit: string
  line: number
}

export interface IncidentListOptions extends InputOptions {
  skipInvalid?: boolean
}

export interface IncidentSeedOptions extends IncidentListOptions {
  /** Roles taken as seeds. Default `['attacker']`. `victim` and `cex_deposit` are refused. */
  roles?: readonly IncidentSeedRole[]
  /** Chains taken. Default `['ethereum']`. */
  chains?: readonly string[]
}

/**
 * Every row of the incident list (all roles and chains: ground truth as well as seeds). Every
 * address is checked, whatever its role.
 */
export async function readIncidentAddresses(
  input: TextInput,
  options: IncidentListOptions = {},
): Promise<{ addresses: IncidentAddress[]; skipped: SkippedEntry[] }> {
  const ctx = context(input, options)
  const table = await readCsv(input, options)
  const index = new Map(table.header.map((h, i) => [h.toLowerCase(), i]))
  for (const name of INCIDENT_COLUMNS) {
    if (!index.has(name)) throw malformed(ctx, `incident list header has no "${name}" column`, { line: 1, field: name })
  }
  const lcIndex = index.get('address_lc')
  const addresses: IncidentAddress[] = []
  for await (const { cells, line } of table.rows) {
    const get = (name: (typeof INCIDENT_COLUMNS)[number]): string => cells[index.get(name) ?? -1] ?? ''
    const value = get('address')
    const role = get('role')
    if (!(INCIDENT_ROLES as readonly string[]).includes(role)) throw malformed(ctx, `unknown role (expected ${INCIDENT_ROLES.join(', ')})`, { line, field: 'role', value: role })
    const incidentDate = get('incident_date')
    if (!/^\d{4}-\d{2}-\d{2}$/.test(incidentDate)) throw malformed(ctx, 'incident_date is not YYYY-MM-DD', { line, field: 'incident_date', value: incidentDate })
    for (const name of ['incident', 'chain'] as const) {
      if (get(name) === '') throw malformed(ctx, `missing ${name}`, { line, field: name })
    }
    const address = checkAddress(ctx, value, line, 'address')
    if (address === undefined) continue
    const long = INCIDENT_TEXT_COLUMNS.map((name) => ({ name, reason: name.startsWith('source_') ? sourceProblem(get(name)) : labelProblem(get(name)) })).find((c) => c.reason !== undefined)
    if (long !== undefined) {
      reject(ctx, 'MALFORMED_FILE', `${long.name} is ${long.reason}`, { line, field: long.name, value: shortText(get(long.name)), reason: long.reason! })
      continue
    }
    const lc = lcIndex === undefined ? undefined : cells[lcIndex]
    if (lc !== undefined && lc !== '' && lc !== address) {
      throw malformed(ctx, 'address_lc does not match address', { line, field: 'address_lc', value: lc })
    }
    addresses.push({
      address,
      value,
      incident: get('incident'),
      incidentDate,
      chain: get('chain'),
      label: get('label'),
      role: role as IncidentRole,
      sourceRepo: get('source_repo'),
      sourcePath: get('source_path'),
      sourceCommit: get('source_commit'),
      line,
    })
  }
  return { addresses, skipped: ctx.skipped }
}

/** Seeds from the incident list: the rows of the seed roles (default attackers) on the chains (default ethereum). */
export async function readIncidentSeeds(input: TextInput, options: IncidentSeedOptions = {}): Promise<SeedList> {
  const roles = options.roles ?? DEFAULT_SEED_ROLES
  const refused = roles.filter((role) => (NEVER_SEED_ROLES as readonly string[]).includes(role))
  if (refused.length > 0) {
    throw new InputError('INVALID_ARGUMENT', 'these incident roles are never seeds', { field: 'roles', value: refused.join(',') })
  }
  const chains = options.chains ?? ['ethereum']
  const { addresses, skipped } = await readIncidentAddresses(input, options)
  const ctx = context(input, options)
  ctx.skipped.push(...skipped)
  const seeds: Seed[] = []
  for (const row of addresses) {
    if (!(roles as readonly string[]).includes(row.role) || !chains.includes(row.chain)) continue
    // Only rows taken as seeds: a victim row may name the zero address.
    if (checkAddress(ctx, row.value, row.line, 'address', true) === undefined) continue
    const checked = bounded(ctx, incidentAddressToSeed(row), row.line)
    if (checked !== undefined) seeds.push(checked)
  }
  return { seeds, skipped: ctx.skipped }
}

/**
 * Label "Lazarus Group, <incident>: <label>", source "<repo>/<path>@<commit>", extra: actor Lazarus Group,
 * incident, listed (the incident date: the list has no publication date), role, chain,
 * confidence 70 (GraphSense `forensic_investigation`).
 */
export function incidentAddressToSeed(row: IncidentAddress): Seed {
  const path = [row.sourceRepo, row.sourcePath].filter((part) => part !== '').join('/')
  const source = row.sourceCommit !== '' ? `${path}@${row.sourceCommit}` : path
  return {
    address: row.address,
    label: row.label !== '' ? `Lazarus Group, ${row.incident}: ${row.label}` : `Lazarus Group, ${row.incident}`,
    source: source !== '' ? source : 'lazarus incident list',
    extra: {
      actor: 'Lazarus Group',
      incident: row.incident,
      listed: row.incidentDate,
      role: row.role,
      chain: row.chain,
      ...confidenceExtra('forensic_investigation'),
    },
  }
}

// ---------------------------------------------------------------------------------------------
// GraphSense TagPacks

/** One address tag of a TagPack, header fields applied. */
export interface TagPackTag {
  address: Address
  line?: number
  label: string
  source: string
  /** GraphSense level 0–100. */
  confidence: number
  /** GraphSense confidence id, when the TagPack gave one. */
  confidenceKind?: string
  actor?: string
  category?: string
  abuse?: string
  context?: string
  lastmod?: string
  currency: string
  network?: string
}

export interface TagPack {
  title: string
  creator?: string
  tags: TagPackTag[]
  /** Tags left out: another currency/network than Ethereum, or no address (transaction or entity tags). */
  ignored: number
  skipped: SkippedEntry[]
}

export interface TagPackOptions extends SeedListOptions {
  /** Keep only tags of these actors (case-insensitive). */
  actors?: readonly string[]
  /** Keep only tags of these categories (case-insensitive). */
  categories?: readonly string[]
}

const TAGPACK_HEADER_ONLY = new Set(['title', 'creator', 'description', 'owner', 'is_public', 'tags'])

/**
 * Parses a GraphSense TagPack (YAML): header fields other than title/creator/description/owner/
 * is_public apply to every tag, a tag's own fields win. Ethereum tags only: `currency: ETH`, or
 * `network: ETH` (newer TagPacks: `currency: USDT, network: ETH` is a token on Ethereum); other
 * tags are counted in `ignored`. Mandatory per tag: address, label, source, confidence (a
 * GraphSense id such as `authority_data`, or a level 0–100).
 *
 * YAML is read with the JSON schema: under YAML 1.2's core schema an unquoted `0x…` address is a
 * hexadecimal integer and would silently become a float.
 */
export async function parseTagPack(input: TextInput, options: TagPackOptions = {}): Promise<TagPack> {
  return parseTagPackAs(input, options, false)
}

/** {@link parseTagPack}; `seeds`: the tags are read as seeds, so the zero address is refused too. */
async function parseTagPackAs(input: TextInput, options: TagPackOptions, seeds: boolean): Promise<TagPack> {
  const ctx = context(input, options)
  const text = await readText(input, options)
  let doc: unknown
  try {
    doc = load(text, { schema: JSON_SCHEMA, filename: ctx.file })
  } catch (error) {
    const line = error instanceof YAMLException && error.mark !== undefined ? error.mark.line + 1 : undefined
    const reason = error instanceof YAMLException ? error.reason : errorMessage(error)
    throw malformed(ctx, `malformed YAML: ${reason}`, line === undefined ? {} : { line })
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw malformed(ctx, 'a TagPack must be a YAML mapping', { line: 1 })
  const header = doc as Record<string, unknown>
  const title = stringify(header.title)
  if (title === undefined) throw malformed(ctx, 'TagPack header has no title', { field: 'title' })
  const titleProblem = labelProblem(title)
  if (titleProblem !== undefined) throw malformed(ctx, `title is ${titleProblem}`, { field: 'title', value: shortText(title) })
  const tagsValue = header.tags
  if (!Array.isArray(tagsValue)) throw malformed(ctx, 'TagPack has no list of tags', { field: 'tags' })
  const inherited: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(header)) if (!TAGPACK_HEADER_ONLY.has(key)) inherited[key] = value

  const actors = options.actors?.map((a) => a.toLowerCase())
  const categories = options.categories?.map((c) => c.toLowerCase())
  const tags: TagPackTag[] = []
  let ignored = 0
  const lineOf = lineCounter(text)
  let cursor = Math.max(0, text.search(/^tags\s*:/m))
  for (const [index, item] of tagsValue.entries()) {
    const field = (name: string): string => `tags[${index}].${name}`
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw malformed(ctx, 'a tag must be a mapping', { field: `tags[${index}]` })
    const tag = { ...inherited, ...(item as Record<string, unknown>) }
    const rawAddress = stringify(tag.address)
    let line: number | undefined
    if (rawAddress !== undefined) {
      const found = text.indexOf(rawAddress, cursor)
      if (found !== -1) {
        line = lineOf(found)
        cursor = found + rawAddress.length
      }
    }
    const at = line === undefined ? {} : { line }
    const currency = stringify(tag.currency)
    const network = stringify(tag.network)
    if (currency === undefined) throw malformed(ctx, 'tag has no currency', { ...at, field: field('currency') })
    const onEthereum = network !== undefined ? network.toUpperCase() === 'ETH' : currency.toUpperCase() === 'ETH'
    if (!onEthereum || rawAddress === undefined) {
      ignored += 1
      continue
    }
    const label = stringify(tag.label)
    const source = stringify(tag.source)
    if (label === undefined || label === '') throw malformed(ctx, 'tag has no label', { ...at, field: field('label') })
    if (source === undefined || source === '') throw malformed(ctx, 'tag has no source', { ...at, field: field('source') })
    const confidenceValue = tag.confidence
    let confidence: number
    let confidenceKind: string | undefined
    if (typeof confidenceValue === 'string' && isConfidenceKind(confidenceValue)) {
      confidence = CONFIDENCE_LEVELS[confidenceValue]
      confidenceKind = confidenceValue
    } else if (typeof confidenceValue === 'number' && Number.isInteger(confidenceValue) && confidenceValue >= 0 && confidenceValue <= 100) {
      confidence = confidenceValue
    } else {
      throw malformed(ctx, 'tag confidence is not a GraphSense confidence id or a level 0-100', {
        ...at,
        field: field('confidence'),
        ...(confidenceValue === undefined ? {} : { value: stringify(confidenceValue) ?? '' }),
      })
    }
    const address = checkAddress(ctx, rawAddress, line, field('address'), seeds)
    if (address === undefined) continue
    const long = (['label', 'source', 'actor', 'category', 'abuse', 'context', 'lastmod'] as const)
      .map((name) => {
        const value = stringify(tag[name]) ?? ''
        return { name, value, reason: name === 'source' ? sourceProblem(value) : labelProblem(value) }
      })
      .find((f) => f.reason !== undefined)
    if (long !== undefined) {
      reject(ctx, 'MALFORMED_FILE', `${long.name} is ${long.reason}`, { line, field: field(long.name), value: shortText(long.value), reason: long.reason! })
      continue
    }
    const parsed: TagPackTag = { address, label, source, confidence, currency }
    if (line !== undefined) parsed.line = line
    if (confidenceKind !== undefined) parsed.confidenceKind = confidenceKind
    for (const key of ['actor', 'category', 'abuse', 'context', 'lastmod', 'network'] as const) {
      const value = stringify(tag[key])
      if (value !== undefined && value !== '') parsed[key] = value
    }
    if (actors !== undefined && !actors.includes((parsed.actor ?? '').toLowerCase())) continue
    if (categories !== undefined && !categories.includes((parsed.category ?? '').toLowerCase())) continue
    tags.push(parsed)
  }
  const pack: TagPack = { title, tags, ignored, skipped: ctx.skipped }
  const creator = stringify(header.creator)
  if (creator !== undefined) pack.creator = creator
  return pack
}

/** Seeds from a TagPack's Ethereum tags (see {@link parseTagPack}). */
export async function readTagPack(input: TextInput, options: TagPackOptions = {}): Promise<SeedList & { ignored: number }> {
  const pack = await parseTagPackAs(input, options, true)
  const seeds = pack.tags.map((tag) => {
    const extra: Record<string, string> = { ...options.extra, confidence: String(tag.confidence) }
    if (tag.confidenceKind !== undefined) extra.confidenceKind = tag.confidenceKind
    if (tag.actor !== undefined) extra.actor = tag.actor
    if (tag.category !== undefined) extra.category = tag.category
    if (tag.abuse !== undefined) extra.abuse = tag.abuse
    if (tag.context !== undefined) extra.context = tag.context
    if (tag.lastmod !== undefined) extra.listed = tag.lastmod
    extra.tagpack = pack.title
    return seed(tag.address, tag.label, tag.source, extra)
  })
  return { seeds, skipped: pack.skipped, ignored: pack.ignored }
}
