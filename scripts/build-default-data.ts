/**
 * Regenerates the shipped default data sets in `data/` from the shared real-data folder
 * (`../shared/data`, or `$SHARED_DATA`):
 *
 *   node --import tsx scripts/build-default-data.ts [--date=YYYY-MM-DD]
 *
 * - data/default-seeds.csv: OFAC's Lazarus Group ETH addresses (full sdn_advanced.xml), the FBI's
 *   Bybit list, and the attackers (role `attacker`, chain `ethereum`) of the Lazarus incident
 *   list, merged with `mergeSeeds` (one row per address, every provenance in `sources`).
 * - data/default-labels.csv: service labels from the Etherscan label scrapes: exchanges, bridges,
 *   mixers, and DEX routers/aggregators (not the thousands of individual pool/pair contracts).
 * - data/README.md: when, from which files (with SHA-256), and the counts.
 *
 * Deterministic: the same inputs give byte-identical CSVs.
 */
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  labelsToCsvRows,
  mergeLabels,
  mergeSeeds,
  readEtherscanLabelCsv,
  readEtherscanLabelMap,
  readFbiBybitList,
  readIncidentSeeds,
  readSdnSeeds,
  seedsToCsvRows,
  toCsv,
  type SkippedEntry,
} from '../src/seeds/index.ts'
import type { ServiceLabel } from '../src/types.ts'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const shared = resolve(process.env.SHARED_DATA ?? join(root, '..', 'shared', 'data'))
const dateArg = process.argv.find((a) => a.startsWith('--date='))?.slice('--date='.length)
const compiled = dateArg ?? new Date().toISOString().slice(0, 10)

const inputs = {
  sdn: join(shared, 'ofac/sdn-advanced/sdn_advanced_2025-11-19.xml.bz2'),
  fbi: join(shared, 'seeds/fbi-bybit-2025/fbi_psa250226_eth_addresses.txt'),
  incidents: join(shared, 'seeds/lazarus-incidents/lazarus_incident_addresses_tayvano.csv'),
  labelMap: join(shared, 'labels/brianleect_2023-06/combinedAccountLabels.json'),
  labelDir: join(shared, 'labels/brianleect_2023-06'),
  dawsbotExchanges: join(shared, 'labels/dawsbot_2022/exchange_all.csv'),
}

/** Categories shipped in the default labels. */
const SHIPPED: readonly string[] = ['exchange', 'bridge', 'mixer', 'dex']
/** A DEX contract worth shipping: labelled `dex` by Etherscan, or named like a router/aggregator/vault. */
const ROUTER_NAME = /\b(router|aggregation|aggregator|exchange proxy|settlement|vault|swap|exchange|swapper)\b/i
const NOT_ROUTER = /\b(token|deployer|multisig|vesting|treasury|fund|old contract|governor|owner)\b/i

function isShipped(label: ServiceLabel): boolean {
  if (!SHIPPED.includes(label.category)) return false
  if (label.category !== 'dex') return true
  const slugs = (label.source ?? '').split(': ').at(-1)?.split(',') ?? []
  const name = label.label.includes(':') ? label.label.slice(label.label.indexOf(':') + 1) : label.label
  return slugs.includes('dex') || (ROUTER_NAME.test(name) && !NOT_ROUTER.test(name))
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

async function main(): Promise<void> {
  const missing = Object.values(inputs).filter((path) => !existsSync(path))
  if (missing.length > 0) {
    console.error(`build-default-data: the shared data folder is missing or incomplete (${shared}); set SHARED_DATA.\nmissing:\n  ${missing.join('\n  ')}`)
    process.exit(2)
  }

  // ---- seeds
  const ofac = await readSdnSeeds(inputs.sdn, { features: 'eth', name: ['Lazarus Group'] })
  const fbi = await readFbiBybitList(inputs.fbi)
  const incidents = await readIncidentSeeds(inputs.incidents, { skipInvalid: true })
  const seeds = mergeSeeds([...ofac, ...fbi.seeds, ...incidents.seeds])
  const skipped: SkippedEntry[] = [...fbi.skipped, ...incidents.skipped]
  writeFileSync(join(root, 'data/default-seeds.csv'), toCsv(seedsToCsvRows(seeds)))

  // ---- labels
  const perLabelFiles = readdirSync(inputs.labelDir)
    .filter((f) => f.endsWith('.csv'))
    .sort()
  const rawLabels: ServiceLabel[] = [
    ...(await readEtherscanLabelMap(inputs.labelMap, { source: 'brianleect/etherscan-labels 2023-06 combinedAccountLabels.json' })),
  ]
  for (const file of perLabelFiles) {
    rawLabels.push(...(await readEtherscanLabelCsv(join(inputs.labelDir, file), { source: `brianleect/etherscan-labels 2023-06 ${file}` })))
  }
  rawLabels.push(...(await readEtherscanLabelCsv(inputs.dawsbotExchanges, { source: 'dawsbot/eth-labels 2022 exchange_all.csv', slug: 'exchange' })))
  const merged = mergeLabels(rawLabels)
  const seedSet = new Set(seeds.map((s) => s.address))
  const labelledSeeds = merged.filter((l) => seedSet.has(l.address))
  const labels = merged
    .filter(isShipped)
    .sort((a, b) => a.category.localeCompare(b.category) || a.label.localeCompare(b.label) || a.address.localeCompare(b.address))
  writeFileSync(join(root, 'data/default-labels.csv'), toCsv(labelsToCsvRows(labels)))

  // ---- README
  const count = <T,>(items: readonly T[], key: (item: T) => string): string =>
    Object.entries(
      items.reduce<Record<string, number>>((acc, item) => {
        acc[key(item)] = (acc[key(item)] ?? 0) + 1
        return acc
      }, {}),
    )
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')
  const rel = (path: string): string => `../shared/data/${relative(shared, path)}`
  const files = [inputs.sdn, inputs.fbi, inputs.incidents, inputs.labelMap, ...perLabelFiles.map((f) => join(inputs.labelDir, f)), inputs.dawsbotExchanges]
  const multi = seeds.filter((s) => s.extra?.sources !== undefined).length
  const readme = `# Default data sets

Compiled on ${compiled} by \`node --import tsx scripts/build-default-data.ts\` from the shared real-data folder
(\`../shared/data\`, see its PROVENANCE.txt files). Run the script again to regenerate them: the same inputs give
byte-identical CSVs.

## default-seeds.csv — ${seeds.length} seeds

Lazarus Group (DPRK) Ethereum addresses, one row per address (EIP-55), merged from:

| source | rows | confidence (GraphSense) |
| --- | --- | --- |
| OFAC SDN \`sdn_advanced.xml\` of 2025-11-19, profile 27307 "Lazarus Group" (program DPRK3), feature "Digital Currency Address - ETH" | ${ofac.length} | 60 authority_data |
| FBI PSA I-022625-PSA (2025-02-26), the Bybit theft | ${fbi.seeds.length} | 60 authority_data |
| Lazarus incident list (T. Monahan's research notes, transcribed), role \`attacker\`, chain \`ethereum\` | ${incidents.seeds.length} | 70 forensic_investigation |

${multi} addresses come from more than one source. By incident: ${count(seeds, (s) => s.extra?.incident ?? '(none)')}.

Columns: \`address,label,source\`, then \`extra\` provenance: actor, incident, listed (the source's date: OFAC publication,
FBI PSA date, incident date for the research list), confidence (0-100) and confidenceKind, role, chain, program,
profileId, designated (OFAC designation date of the profile), featureType, and \`sources\`: when an address has
several provenances, a JSON array of each one as it was read (label, source and its own extra); \`label\` is then the
label of the highest-confidence provenance and \`source\` all sources joined by \` | \` (see \`src/seeds/merge.ts\`).

Not seeds: the incident list's victims and exchange deposit addresses (never), its Tornado Cash depositors and
withdrawers (ground truth for the walk, importable with \`readIncidentSeeds(…, { roles })\`), its rows on other chains,
and the other OFAC profiles (e.g. Semenov Roman, DPRK3, Tornado Cash co-founder: same program, not Lazarus).
${
  skipped.length === 0
    ? ''
    : `
Skipped as invalid (reported, not imported; \`skipInvalid: true\`):
${skipped.map((s) => `- ${relative(shared, s.file)}:${s.line ?? '?'} ${s.field ?? ''} \`${s.value}\`: ${s.reason}`).join('\n')}
`
}
## default-labels.csv — ${labels.length} service labels

Categories: ${count(labels, (l) => l.category)}. Exchanges, bridges and mixers in full; DEXs only routers,
aggregators, settlement and vault contracts (Etherscan label \`dex\`, or a router-like name), not the ~8,000 individual
pool and pair contracts. Columns \`address,label,category,source\`; \`source\` names the scrape and the Etherscan label
slugs. Slugs map to categories in \`src/seeds/label-categories.ts\`; where an address has several, the first of
mixer, bridge, exchange, dex, … wins.

From: brianleect/etherscan-labels (MIT; scraped 2023-06-18), the JSON map and the per-label CSVs, and
dawsbot/eth-labels (MIT; 2022-05) \`exchange_all.csv\`. Stale for services newer than mid-2023 (eXch, THORChain
router versions, …): add labels for them with \`exposure labels import\`.
${
  labelledSeeds.length === 0
    ? 'No default seed carries a label in the scrapes.'
    : `In the scrapes, ${labelledSeeds.length} default seeds carry a label: ${count(labelledSeeds, (l) => l.category)} (${labelledSeeds
        .map((l) => `\`${l.address}\` "${l.label}"`)
        .join(', ')}). ${
        labelledSeeds.some(isShipped)
          ? 'Some are in a shipped category and stay labelled: a labelled seed still spreads (DESIGN.md, rule 3).'
          : 'None is in a shipped category, so no default seed is a stop node.'
      }`
}

## Input files

| file | SHA-256 |
| --- | --- |
${files.map((f) => `| \`${rel(f)}\` | \`${sha256(f)}\` |`).join('\n')}
`
  writeFileSync(join(root, 'data/README.md'), readme)

  console.log(`default-seeds.csv  ${seeds.length} seeds (OFAC ${ofac.length}, FBI ${fbi.seeds.length}, incidents ${incidents.seeds.length}; ${multi} multi-source)`)
  console.log(`default-labels.csv ${labels.length} labels (${count(labels, (l) => l.category)})`)
  for (const s of skipped) console.log(`skipped ${basename(s.file)}:${s.line ?? '?'} ${s.value}: ${s.reason}`)
  if (labelledSeeds.length > 0) console.log(`labelled seeds: ${labelledSeeds.map((l) => `${l.address} ${l.label} (${l.category})`).join('; ')}`)
}

await main()
