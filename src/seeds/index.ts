/** Seed and service-label importers (pure: they read files and answer records; storing them is elsewhere). */
export { addressProblem, looksLikeAddress, parseAddress, seedAddressProblem, toChecksumAddress, ZERO_ADDRESS, type Where } from './address.ts'
export { labelProblem, MAX_LABEL_LENGTH, MAX_MERGED_LENGTH, MAX_SOURCE_LENGTH, seedTextProblem, shortText, sourceProblem, type TextProblem } from './text.ts'
export { CONFIDENCE_LEVELS, confidenceExtra, isConfidenceKind, type ConfidenceKind } from './confidence.ts'
export { inputName, readText, readTextChunks, type InputOptions, type TextInput } from './input.ts'
export { csvCell, readCsv, toCsv, type CsvRow, type CsvTable } from './csv.ts'
export { bunzip2 } from './bzip2.ts'
export {
  DIGITAL_CURRENCY_PREFIX,
  EVM_CHAIN_CURRENCIES,
  EVM_TOKEN_CURRENCIES,
  parseSdnAdvanced,
  readSdnAdvanced,
  readSdnSeeds,
  sdnRecordToSeed,
  type SdnAddressRecord,
  type SdnReadOptions,
} from './ofac-sdn.ts'
export {
  DEFAULT_SEED_ROLES,
  FBI_BYBIT_PROVENANCE,
  INCIDENT_ROLES,
  incidentAddressToSeed,
  mergeSeeds,
  NEVER_SEED_ROLES,
  parseTagPack,
  provenancesOf,
  readFbiBybitList,
  readIncidentAddresses,
  readIncidentSeeds,
  readSeedCsv,
  readSeedFile,
  readSeedJson,
  readSeedTxt,
  readTagPack,
  SEED_EXTRA_COLUMNS,
  seedsToCsvRows,
  SOURCE_SEPARATOR,
  type IncidentAddress,
  type IncidentListOptions,
  type IncidentRole,
  type IncidentSeedOptions,
  type IncidentSeedRole,
  type SeedList,
  type SeedListOptions,
  type SkippedEntry,
  type TagPack,
  type TagPackOptions,
  type TagPackTag,
} from './lists.ts'
export {
  labelsToCsvRows,
  mergeLabels,
  readEtherscanLabelCsv,
  readEtherscanLabelMap,
  readLabelCsv,
  readLabelFile,
  readTagPackLabels,
  type LabelReadOptions,
} from './labels.ts'
export {
  CATEGORY_PRECEDENCE,
  categoryForSlug,
  categoryForSlugs,
  isLabelCategory,
  LABEL_CATEGORIES,
  SERVICE_CATEGORIES,
  slugsOf,
  slugTitle,
  type LabelCategory,
} from './label-categories.ts'
