/**
 * One entry point for the CLI's `seeds import|diff` and `labels import`: picks the reader by
 * `--format` or by the file's extension (`.gz`/`.bz2` allowed), reads the whole file (all or
 * nothing) and answers the seeds with the scope a `--replace` import would replace.
 *
 * Formats (seeds): `csv` (header `address,label,source`, more columns kept as provenance; a CSV
 * whose header is the incident list's is read as `incidents`), `json` (array of objects or address
 * strings), `txt` (one address a line), `sdn` (OFAC `sdn_advanced.xml`; default filter: primary
 * name "Lazarus Group"), `fbi` (the FBI's Bybit list, TXT), `incidents` (the Lazarus incident
 * list; roles default `attacker`), `tagpack` (GraphSense YAML).
 */
import { InputError } from '../errors.ts'
import type { Seed, ServiceLabel } from '../types.ts'
import { readCsv } from './csv.ts'
import { readEtherscanLabelCsv, readEtherscanLabelMap, readLabelCsv, readLabelFile, readTagPackLabels } from './labels.ts'
import {
  INCIDENT_ROLES,
  NEVER_SEED_ROLES,
  readFbiBybitList,
  readIncidentSeeds,
  readSeedCsv,
  readSeedJson,
  readSeedTxt,
  readTagPack,
  type IncidentSeedRole,
  type SkippedEntry,
} from './lists.ts'
import { readSdnSeeds } from './ofac-sdn.ts'
import { familiesOf, fileScope } from './seed-set.ts'

export const SEED_FORMATS = ['csv', 'json', 'txt', 'sdn', 'fbi', 'incidents', 'tagpack'] as const
export type SeedFormat = (typeof SEED_FORMATS)[number]

export const LABEL_FORMATS = ['csv', 'etherscan-json', 'etherscan-csv', 'tagpack'] as const
export type LabelFormat = (typeof LABEL_FORMATS)[number]

/** The SDN profile the project is about: `seeds import` of an SDN file keeps it unless told otherwise. */
export const DEFAULT_SDN_NAME = 'Lazarus Group'

export interface SeedImportOptions {
  format?: SeedFormat
  /** SDN: keep profiles with one of these programs (e.g. DPRK3). */
  program?: readonly string[]
  /** SDN: keep profiles with one of these primary names. Default "Lazarus Group" unless `program` or `allEth`. */
  name?: readonly string[]
  /** SDN: every profile's ETH addresses (no name or program filter). */
  allEth?: boolean
  /** SDN: also EVM-format addresses of other assets (USDT/USDC on Ethereum, other EVM chains). */
  allEvm?: boolean
  /** Incidents: roles taken as seeds. Default `attacker`. */
  roles?: readonly string[]
  /** Report invalid addresses instead of failing (the file must otherwise be well formed). */
  skipInvalid?: boolean
}

export interface SeedFileRead {
  file: string
  format: SeedFormat
  seeds: Seed[]
  skipped: SkippedEntry[]
  /** Source families of the file (what `--replace` replaces). */
  families: string[]
  /** The provenances a `--replace` import of this file drops first. */
  scope: (provenance: Seed) => boolean
  /** Filters applied, for messages: e.g. `name=Lazarus Group`. */
  filters: string[]
}

function bareName(file: string): string {
  return file.toLowerCase().replace(/\.(gz|bz2)$/, '')
}

/** The seed format a file's name (and, for CSV, its header) says. */
export async function detectSeedFormat(file: string): Promise<SeedFormat> {
  const name = bareName(file)
  if (name.endsWith('.xml')) return 'sdn'
  if (name.endsWith('.json')) return 'json'
  if (name.endsWith('.yaml') || name.endsWith('.yml')) return 'tagpack'
  if (name.endsWith('.txt') || name.endsWith('.lst')) return 'txt'
  if (name.endsWith('.csv')) {
    const { header, close } = await readCsv(file)
    close()
    const lower = new Set(header.map((h) => h.toLowerCase()))
    return lower.has('incident_date') && lower.has('role') && lower.has('incident') ? 'incidents' : 'csv'
  }
  throw new InputError('MALFORMED_FILE', `cannot tell the seed format from the file name: pass --format ${SEED_FORMATS.join('|')}`, { file })
}

/** Reads a seed file completely (nothing is written anywhere). */
export async function readSeedsFrom(file: string, options: SeedImportOptions = {}): Promise<SeedFileRead> {
  const format = options.format ?? (await detectSeedFormat(file))
  const skipInvalid = options.skipInvalid === true
  const filters: string[] = []
  let narrow: ((p: Seed) => boolean) | undefined
  let seeds: Seed[]
  let skipped: SkippedEntry[] = []
  if (format !== 'sdn' && (options.program !== undefined || options.name !== undefined || options.allEth === true || options.allEvm === true)) {
    throw new InputError('INVALID_ARGUMENT', '--program, --name, --all-eth and --all-evm apply to OFAC SDN files only', { field: 'format', value: format })
  }
  if (format !== 'incidents' && options.roles !== undefined) throw new InputError('INVALID_ARGUMENT', '--roles applies to the incident list only', { field: 'format', value: format })
  switch (format) {
    case 'csv':
      ;({ seeds, skipped } = await readSeedCsv(file, { skipInvalid }))
      break
    case 'json':
      ;({ seeds, skipped } = await readSeedJson(file, { skipInvalid }))
      break
    case 'txt':
      ;({ seeds, skipped } = await readSeedTxt(file, { skipInvalid }))
      break
    case 'fbi':
      ;({ seeds, skipped } = await readFbiBybitList(file, { skipInvalid }))
      break
    case 'tagpack':
      ;({ seeds, skipped } = await readTagPack(file, { skipInvalid }))
      break
    case 'incidents': {
      const roles = options.roles ?? ['attacker']
      for (const role of roles) {
        if (!(INCIDENT_ROLES as readonly string[]).includes(role)) throw new InputError('INVALID_ARGUMENT', `unknown incident role (expected ${INCIDENT_ROLES.join(', ')})`, { field: 'roles', value: role })
        if ((NEVER_SEED_ROLES as readonly string[]).includes(role)) throw new InputError('INVALID_ARGUMENT', 'victims and exchange deposit addresses are never seeds', { field: 'roles', value: role })
      }
      ;({ seeds, skipped } = await readIncidentSeeds(file, { skipInvalid, roles: roles as IncidentSeedRole[] }))
      filters.push(`roles=${roles.join(',')}`)
      narrow = (p) => p.extra?.role === undefined || roles.includes(p.extra.role)
      break
    }
    case 'sdn': {
      // The SDN reader has no skip mode: an invalid address in an ETH feature is a broken file.
      const names = options.name ?? (options.program === undefined && options.allEth !== true ? [DEFAULT_SDN_NAME] : undefined)
      const programs = options.program
      seeds = await readSdnSeeds(file, {
        ...(options.allEvm === true ? { features: 'all-evm' as const } : {}),
        ...(names === undefined ? {} : { name: [...names] }),
        ...(programs === undefined ? {} : { program: [...programs] }),
      })
      if (names !== undefined) filters.push(`name=${names.join(',')}`)
      if (programs !== undefined) filters.push(`program=${programs.join(',')}`)
      if (options.allEvm === true) filters.push('features=all-evm')
      const lowerNames = names?.map((n) => n.toLowerCase())
      const upperPrograms = programs?.map((p) => p.toUpperCase())
      narrow = (p) =>
        (lowerNames === undefined || lowerNames.includes((p.extra?.actor ?? p.label).toLowerCase())) &&
        (upperPrograms === undefined || (p.extra?.program ?? '').split(';').some((code) => upperPrograms.includes(code.toUpperCase())))
      break
    }
  }
  const families = familiesOf(seeds)
  return { file, format, seeds, skipped, families, scope: fileScope(families, narrow), filters }
}

export interface LabelImportOptions {
  format?: LabelFormat
  /** Category for per-label CSVs and category-less plain CSVs (default: from the file name). */
  category?: string
  /** Keep addresses whose Etherscan slugs map to no category, as `other`. */
  includeUncategorized?: boolean
  skipInvalid?: boolean
}

/** Reads a label file completely: by `format`, else by its name and header (labels.ts readLabelFile). */
export async function readLabelsFrom(file: string, options: LabelImportOptions = {}): Promise<{ labels: ServiceLabel[]; skipped: SkippedEntry[] }> {
  const skipped: SkippedEntry[] = []
  const common = {
    skipInvalid: options.skipInvalid === true,
    onSkip: (entry: SkippedEntry) => skipped.push(entry),
    ...(options.includeUncategorized === true ? { includeUncategorized: true } : {}),
  }
  const withCategory = options.category === undefined ? common : { ...common, category: options.category }
  let labels: ServiceLabel[]
  switch (options.format) {
    case undefined:
      labels = await readLabelFile(file, withCategory)
      break
    case 'csv':
      labels = await readLabelCsv(file, withCategory)
      break
    case 'etherscan-json':
      labels = await readEtherscanLabelMap(file, common)
      break
    case 'etherscan-csv':
      labels = await readEtherscanLabelCsv(file, options.category === undefined ? common : { ...common, slug: options.category })
      break
    case 'tagpack':
    default:
      labels = await readTagPackLabels(file, common)
      break
  }
  return { labels, skipped }
}
