/**
 * Streaming importer for OFAC's `sdn_advanced.xml` (the "ADVANCED_XML" export of the SDN list).
 *
 * The format, as far as addresses are concerned:
 * - `ReferenceValueSets/FeatureTypeValues/FeatureType[@ID]` names each feature type; digital
 *   currency addresses are the types named `Digital Currency Address - <currency>` (345 = ETH).
 * - `DistinctParties/DistinctParty/Profile[@ID]` holds a party: its primary name is the
 *   `NamePartValue`s of the primary `Alias` of the primary `Identity`, and each address is a
 *   `Feature[@FeatureTypeID]/FeatureVersion/VersionDetail` text.
 * - `SanctionsEntries/SanctionsEntry[@ProfileID]` comes AFTER all parties: its
 *   `SanctionsMeasure`s whose type is "Program" carry the program code (DPRK3, CYBER2, …) in
 *   their `Comment`, and its `EntryEvent/Date` is when the party was designated.
 *
 * So a party's programs are only known at the end of the file. The parser therefore keeps the
 * (few) candidate addresses it meets, and answers them only once the whole document has been read
 * and checked: all-or-nothing, as every importer here. It does not rely on the reference values
 * coming first either (they do in OFAC's files): features met before their type is known are kept
 * and resolved at the end. Memory is bounded by the number of text features (≈12k in the full
 * file), never by the file size (121 MB): the XML is streamed through saxes, never built as a DOM.
 *
 * `features: 'all-evm'` takes the feature types whose values are Ethereum-format addresses
 * (0x + 40 hex, the same key controls the address on every EVM chain): ETH, ETC, ARB (Arbitrum),
 * BSC (BNB Smart Chain), and the tokens USDT and USDC, whose lists mix EVM addresses with other
 * chains' (USDT: mostly Tron `T…` addresses): for tokens only the `0x` values are taken. Also
 * recognised, should OFAC add them: MATIC, POL, AVAX, OP, BASE, FTM, DAI, WETH, BUSD. Never: XBT,
 * BCH, BSV, BTG, LTC, DASH, ZEC, XMR, XVG, XRP, TRX, SOL, and BNB (a Beacon Chain `bnb1…` address).
 * USDT values are mostly Tron (`T…`) and Omni (`1…`/`3…`) addresses; one Ethereum address can be
 * listed under several types (Sim Hyon Sop's: ETH, ARB and BSC), one record each.
 *
 * A feature version whose reliability is "False" (ReliabilityValues) is left out: OFAC says the
 * value is wrong. None of the 2025-11-19 file's digital-currency features is marked so.
 */
import { SaxesParser } from 'saxes'
import { InputError } from '../errors.ts'
import type { Address, Seed } from '../types.ts'
import { addressProblem, ZERO_ADDRESS } from './address.ts'
import { confidenceExtra } from './confidence.ts'
import { errorMessage, inputName, readTextChunks, type InputOptions, type TextInput } from './input.ts'
import { seedTextProblem } from './text.ts'

/** One digital-currency address of one SDN profile. */
export interface SdnAddressRecord {
  /** Lowercase. */
  address: Address
  /** The address as written in the file (original case). */
  value: string
  profileId: string
  /** NamePartValues of the primary alias, joined by a space (e.g. "Lazarus Group"). */
  primaryName: string
  /** Program codes in file order, e.g. `['DPRK3']`. */
  programs: string[]
  /** The feature type's name, e.g. "Digital Currency Address - ETH". */
  featureType: string
  /** The currency suffix of the feature type, e.g. "ETH". */
  currency: string
  /** Publication date of the file (`DateOfIssue`), `YYYY-MM-DD`. */
  published: string
  /** Earliest `EntryEvent` date of the profile's sanctions entry, `YYYY-MM-DD`, when present. */
  designated?: string
  /** Line of the `VersionDetail` in the file. */
  line: number
}

export interface SdnReadOptions extends InputOptions {
  /** `'eth'` (default): "Digital Currency Address - ETH" only; `'all-evm'`: see the module comment. */
  features?: 'eth' | 'all-evm'
  /** Keep only profiles with at least one of these programs (case-insensitive), e.g. `['DPRK3']`. */
  program?: string[]
  /** Keep only profiles whose primary name is one of these (case-insensitive, exact), e.g. `['Lazarus Group']`. */
  name?: string[]
}

export const DIGITAL_CURRENCY_PREFIX = 'Digital Currency Address - '
/** Native EVM chains: every value must be a valid address. */
export const EVM_CHAIN_CURRENCIES: readonly string[] = ['ETH', 'ETC', 'ARB', 'BSC', 'MATIC', 'POL', 'AVAX', 'OP', 'BASE', 'FTM']
/** Tokens listed on several chains: only the 0x values are EVM addresses. */
export const EVM_TOKEN_CURRENCIES: readonly string[] = ['USDT', 'USDC', 'DAI', 'WETH', 'BUSD']

interface Candidate {
  featureTypeId: string
  reliabilityId: string
  value: string
  line: number
  profileId: string
}

interface EntryInfo {
  measures: Array<{ typeId: string; comment: string }>
  dates: string[]
}

/**
 * Streams an `sdn_advanced.xml` (path — `.bz2`/`.gz` decompressed by extension — or stream) and
 * yields its Ethereum-format digital-currency addresses in file order, after the whole file has
 * been read and checked.
 *
 * @throws InputError `MALFORMED_FILE` (not well-formed or truncated XML, not an SDN advanced file,
 *   no publication date), naming the file and line; `INVALID_ADDRESS` when a value of an EVM
 *   feature type is not a valid address; `FILE_NOT_FOUND`.
 */
export async function* readSdnAdvanced(input: TextInput, options: SdnReadOptions = {}): AsyncGenerator<SdnAddressRecord> {
  const records = await parseSdnAdvanced(input, options)
  yield* records
}

/** {@link readSdnAdvanced}, collected into an array. */
export async function parseSdnAdvanced(input: TextInput, options: SdnReadOptions = {}): Promise<SdnAddressRecord[]> {
  const file = inputName(input, options)
  const mode = options.features ?? 'eth'
  const wanted = (name: string): 'chain' | 'token' | undefined => {
    if (!name.startsWith(DIGITAL_CURRENCY_PREFIX)) return undefined
    const currency = name.slice(DIGITAL_CURRENCY_PREFIX.length).trim()
    if (mode === 'eth') return currency === 'ETH' ? 'chain' : undefined
    if (EVM_CHAIN_CURRENCIES.includes(currency)) return 'chain'
    if (EVM_TOKEN_CURRENCIES.includes(currency)) return 'token'
    return undefined
  }

  const parser = new SaxesParser({ position: true })
  const stack: string[] = []
  let rootSeen = false

  // reference values
  const featureTypes = new Map<string, string>()
  const sanctionsTypes = new Map<string, string>()
  const reliabilities = new Map<string, string>()
  let referencesSeen = false
  let refId: string | undefined
  let refTarget: Map<string, string> | undefined

  // DateOfIssue / EntryEvent dates
  let dateTarget: 'issue' | 'entry' | undefined
  let dateParts: Record<string, string> = {}
  let published: string | undefined

  // parties
  let profileId: string | undefined
  /** stack depth of the open primary <Identity>/<Alias>, or -1 */
  let primaryIdentityDepth = -1
  let primaryIdentityDone = false
  let primaryAliasDepth = -1
  let primaryAliasDone = false
  let nameParts: string[] = []
  let featureTypeId: string | undefined
  let reliabilityId = ''
  let profileCandidates: Candidate[] = []
  const names = new Map<string, string>()
  const candidates: Candidate[] = []

  // sanctions entries
  let entry: EntryInfo | undefined
  let measureTypeId: string | undefined
  const entries = new Map<string, EntryInfo>()

  // text capture
  let capture: 'ref' | 'date' | 'name' | 'detail' | 'comment' | undefined
  let text = ''
  let textLine = 0

  const fail = (message: string, line = parser.line): never => {
    throw new InputError('MALFORMED_FILE', message, { file, line })
  }

  let ended = false
  parser.on('error', (error) => {
    // saxes prefixes its message with "[file:]line:column: "; the details say where instead
    const message = errorMessage(error).replace(/^(?:.*?:)?\d+:\d+: /, '')
    const what = ended ? 'truncated or malformed XML (end of file reached)' : 'malformed XML'
    throw new InputError('MALFORMED_FILE', `${what}: ${message}`, { file, line: parser.line, column: parser.column + 1 })
  })

  parser.on('opentag', (tag) => {
    const name = localName(tag.name)
    const parent = stack.length > 0 ? stack[stack.length - 1] : undefined
    const attrs = tag.attributes as Record<string, string>
    if (!rootSeen) {
      rootSeen = true
      if (name !== 'Sanctions') fail(`not an OFAC sdn_advanced.xml file: root element is <${tag.name}>, expected <Sanctions>`)
    }
    stack.push(name)
    switch (name) {
      case 'ReferenceValueSets':
        referencesSeen = true
        break
      case 'FeatureType':
        if (parent === 'FeatureTypeValues') startRef(featureTypes, attrs.ID)
        break
      case 'SanctionsType':
        if (parent === 'SanctionsTypeValues') startRef(sanctionsTypes, attrs.ID)
        break
      case 'Reliability':
        if (parent === 'ReliabilityValues') startRef(reliabilities, attrs.ID)
        break
      case 'FeatureVersion':
        if (featureTypeId !== undefined) reliabilityId = attrs.ReliabilityID ?? ''
        break
      case 'DateOfIssue':
        if (parent === 'Sanctions') {
          dateTarget = 'issue'
          dateParts = {}
        }
        break
      case 'Date':
        if (parent === 'EntryEvent' && entry !== undefined) {
          dateTarget = 'entry'
          dateParts = {}
        }
        break
      case 'Year':
      case 'Month':
      case 'Day':
        if (dateTarget !== undefined && (parent === 'DateOfIssue' || parent === 'Date')) startCapture('date')
        break
      case 'Profile':
        if (parent === 'DistinctParty') {
          profileId = attrs.ID ?? fail('<Profile> without an ID')
          primaryIdentityDepth = -1
          primaryIdentityDone = false
          primaryAliasDepth = -1
          primaryAliasDone = false
          nameParts = []
          profileCandidates = []
        }
        break
      case 'Identity':
        if (profileId !== undefined && parent === 'Profile' && attrs.Primary === 'true' && !primaryIdentityDone) {
          primaryIdentityDepth = stack.length
        }
        break
      case 'Alias':
        if (primaryIdentityDepth !== -1 && !primaryAliasDone && parent === 'Identity' && attrs.Primary === 'true') {
          primaryAliasDepth = stack.length
        }
        break
      case 'NamePartValue':
        if (primaryAliasDepth !== -1) startCapture('name')
        break
      case 'Feature':
        if (profileId !== undefined && parent === 'Profile') featureTypeId = attrs.FeatureTypeID ?? fail('<Feature> without a FeatureTypeID')
        break
      case 'VersionDetail':
        if (featureTypeId !== undefined && parent === 'FeatureVersion') {
          const typeName = featureTypes.get(featureTypeId)
          // with the reference values known, keep only wanted types; otherwise keep every text
          // value and decide at the end
          if (!referencesSeen || typeName === undefined || wanted(typeName) !== undefined) startCapture('detail')
        }
        break
      case 'SanctionsEntry':
        if (parent === 'SanctionsEntries') {
          const id = attrs.ProfileID ?? fail('<SanctionsEntry> without a ProfileID')
          entry = entries.get(id)
          if (entry === undefined) {
            entry = { measures: [], dates: [] }
            entries.set(id, entry)
          }
        }
        break
      case 'SanctionsMeasure':
        if (entry !== undefined && parent === 'SanctionsEntry') measureTypeId = attrs.SanctionsTypeID ?? ''
        break
      case 'Comment':
        if (measureTypeId !== undefined && parent === 'SanctionsMeasure') startCapture('comment')
        break
    }
  })

  parser.on('text', (chunk) => {
    if (capture !== undefined) text += chunk
  })

  parser.on('closetag', () => {
    const name = stack.pop()
    if (name === undefined) return
    if (capture !== undefined) endCapture(name)
    switch (name) {
      case 'FeatureType':
      case 'SanctionsType':
      case 'Reliability':
        refTarget = undefined
        refId = undefined
        break
      case 'DateOfIssue':
        if (dateTarget === 'issue') {
          published = isoDate(dateParts) ?? fail('<DateOfIssue> without a complete Year/Month/Day')
          dateTarget = undefined
        }
        break
      case 'Date':
        if (dateTarget === 'entry') {
          const date = isoDate(dateParts)
          if (date !== undefined && entry !== undefined) entry.dates.push(date)
          dateTarget = undefined
        }
        break
      case 'Alias':
        if (primaryAliasDepth !== -1 && stack.length + 1 === primaryAliasDepth) {
          primaryAliasDepth = -1
          primaryAliasDone = true
        }
        break
      case 'Identity':
        if (primaryIdentityDepth !== -1 && stack.length + 1 === primaryIdentityDepth) {
          primaryIdentityDepth = -1
          primaryIdentityDone = true
        }
        break
      case 'Feature':
        featureTypeId = undefined
        break
      case 'Profile':
        if (profileId !== undefined && stack[stack.length - 1] === 'DistinctParty') {
          if (profileCandidates.length > 0) {
            names.set(profileId, nameParts.join(' '))
            candidates.push(...profileCandidates)
          }
          profileId = undefined
        }
        break
      case 'SanctionsMeasure':
        measureTypeId = undefined
        break
      case 'SanctionsEntry':
        if (stack[stack.length - 1] === 'SanctionsEntries') entry = undefined
        break
    }
  })

  function startRef(target: Map<string, string>, id: string | undefined): void {
    refTarget = target
    refId = id ?? fail('reference value without an ID')
    startCapture('ref')
  }

  function startCapture(kind: NonNullable<typeof capture>): void {
    capture = kind
    text = ''
    textLine = parser.line
  }

  function endCapture(name: string): void {
    const value = text.trim()
    switch (capture) {
      case 'ref':
        if (refTarget !== undefined && refId !== undefined) refTarget.set(refId, value)
        break
      case 'date':
        dateParts[name] = value
        break
      case 'name':
        if (value !== '') nameParts.push(value)
        break
      case 'detail':
        if (value !== '' && featureTypeId !== undefined && profileId !== undefined) {
          profileCandidates.push({ featureTypeId, reliabilityId, value, line: textLine, profileId })
        }
        break
      case 'comment':
        if (entry !== undefined && measureTypeId !== undefined && value !== '') entry.measures.push({ typeId: measureTypeId, comment: value })
        break
    }
    capture = undefined
    text = ''
  }

  try {
    for await (const chunk of readTextChunks(input, options)) parser.write(chunk)
    ended = true
    parser.close()
  } catch (error) {
    if (error instanceof InputError) throw error
    throw new InputError('MALFORMED_FILE', `cannot parse XML: ${errorMessage(error)}`, { file, line: parser.line }, { cause: error })
  }

  const publishedDate = published ?? fail('not an OFAC sdn_advanced.xml file: no <DateOfIssue>')
  if (featureTypes.size === 0) fail('not an OFAC sdn_advanced.xml file: no FeatureType reference values')

  // "Program" measures carry the program code; fall back to OFAC's id when the type list is absent
  const programTypeIds = new Set([...sanctionsTypes].filter(([, value]) => value === 'Program').map(([id]) => id))
  if (programTypeIds.size === 0) programTypeIds.add('1')
  const programsOf = (id: string): string[] => {
    const info = entries.get(id)
    if (info === undefined) return []
    return unique(info.measures.filter((m) => programTypeIds.has(m.typeId)).map((m) => m.comment))
  }
  const designatedOf = (id: string): string | undefined => entries.get(id)?.dates.slice().sort()[0]

  const programFilter = options.program?.map((p) => p.toUpperCase())
  const nameFilter = options.name?.map((n) => n.toLowerCase())
  const records: SdnAddressRecord[] = []
  for (const candidate of candidates) {
    const featureType = featureTypes.get(candidate.featureTypeId)
    if (featureType === undefined) continue
    const kind = wanted(featureType)
    if (kind === undefined) continue
    if (kind === 'token' && !/^0x/i.test(candidate.value)) continue // e.g. a Tron USDT address
    if (reliabilities.get(candidate.reliabilityId) === 'False') continue // OFAC marks the value as false
    const problem = addressProblem(candidate.value)
    if (problem !== undefined) {
      throw new InputError('INVALID_ADDRESS', `invalid address: ${problem}`, {
        file,
        line: candidate.line,
        field: featureType,
        value: candidate.value,
        reason: problem,
        profileId: candidate.profileId,
      })
    }
    const primaryName = names.get(candidate.profileId) ?? ''
    const programs = programsOf(candidate.profileId)
    if (programFilter !== undefined && !programs.some((p) => programFilter.includes(p.toUpperCase()))) continue
    if (nameFilter !== undefined && !nameFilter.includes(primaryName.toLowerCase())) continue
    const record: SdnAddressRecord = {
      address: candidate.value.toLowerCase() as Address,
      value: candidate.value,
      profileId: candidate.profileId,
      primaryName,
      programs,
      featureType,
      currency: featureType.slice(DIGITAL_CURRENCY_PREFIX.length).trim(),
      published: publishedDate,
      line: candidate.line,
    }
    const designated = designatedOf(candidate.profileId)
    if (designated !== undefined) record.designated = designated
    records.push(record)
  }
  return records
}

/**
 * A seed with its provenance: source "OFAC SDN sdn_advanced.xml <date>, profile <id>", label the
 * primary name, and `extra` = program (codes joined by `;`), profileId, listed (the file's
 * publication date), designated (the entry's date), actor (the primary name), featureType,
 * confidence 60 (GraphSense `authority_data`).
 */
export function sdnRecordToSeed(record: SdnAddressRecord): Seed {
  const extra: Record<string, string> = {
    actor: record.primaryName,
    program: record.programs.join(';'),
    profileId: record.profileId,
    listed: record.published,
    ...confidenceExtra('authority_data'),
    featureType: record.featureType,
  }
  if (record.designated !== undefined) extra.designated = record.designated
  return {
    address: record.address,
    label: record.primaryName,
    source: `OFAC SDN sdn_advanced.xml ${record.published}, profile ${record.profileId}`,
    extra,
  }
}

/**
 * Reads `sdn_advanced.xml` and answers one seed per (profile, address) record, in file order.
 *
 * @throws InputError `INVALID_ADDRESS` for the zero address (never a seed), `MALFORMED_FILE` for a
 *   name beyond the label bound (text.ts), naming the file and line: the SDN reader has no skip mode.
 */
export async function readSdnSeeds(input: TextInput, options: SdnReadOptions = {}): Promise<Seed[]> {
  const file = inputName(input, options)
  return (await parseSdnAdvanced(input, options)).map((record) => {
    if (record.address === ZERO_ADDRESS) {
      const reason = 'the zero address (mints and burns) is never a seed'
      throw new InputError('INVALID_ADDRESS', `invalid address: ${reason}`, { file, line: record.line, field: record.featureType, value: record.value, reason, profileId: record.profileId })
    }
    const seed = sdnRecordToSeed(record)
    const problem = seedTextProblem(seed)
    if (problem !== undefined) throw new InputError('MALFORMED_FILE', `${problem.field} is ${problem.reason}`, { file, line: record.line, field: problem.field, value: problem.value, profileId: record.profileId })
    return seed
  })
}

function localName(name: string): string {
  const colon = name.indexOf(':')
  return colon === -1 ? name : name.slice(colon + 1)
}

function isoDate(parts: Record<string, string>): string | undefined {
  const { Year: year, Month: month, Day: day } = parts
  if (year === undefined || month === undefined || day === undefined) return undefined
  if (!/^\d{4}$/.test(year) || !/^\d{1,2}$/.test(month) || !/^\d{1,2}$/.test(day)) return undefined
  return `${year}-${month.padStart(2, '0')}-${day.padStart(2, '0')}`
}

function unique(values: string[]): string[] {
  return [...new Set(values)]
}
