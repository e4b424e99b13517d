import { fileURLToPath } from 'node:url'
import { Command, Option } from 'commander'
import { InputError } from '../../errors.ts'
import { parseAddress, toChecksumAddress } from '../../seeds/address.ts'
import { LABEL_FORMATS, readLabelsFrom, readSeedsFrom, SEED_FORMATS, type LabelFormat, type SeedFileRead, type SeedFormat } from '../../seeds/import-file.ts'
import { mergeLabels } from '../../seeds/labels.ts'
import type { SkippedEntry } from '../../seeds/lists.ts'
import { provenancesOf } from '../../seeds/merge.ts'
import { planImport, planRemove } from '../../seeds/seed-set.ts'
import { createSeedVersions, type AppliedChange } from '../../store/seed-versions.ts'
import type { Address, ServiceLabel } from '../../types.ts'
import { updateWalkAfterSeedChange, type TraceSummary } from '../../walk/incremental.ts'
import { withContext, type Context } from '../context.ts'
import { formatCount, printJson, printTable, progressBar, terminalSafe } from '../output.ts'

/** The shipped defaults (data/README.md says when and from what they were compiled). */
export const DEFAULT_SEEDS = fileURLToPath(new URL('../../../data/default-seeds.csv', import.meta.url))
export const DEFAULT_LABELS = fileURLToPath(new URL('../../../data/default-labels.csv', import.meta.url))

interface ReadFlags {
  default?: boolean
  format?: SeedFormat
  program?: string[]
  name?: string[]
  allEth?: boolean
  allEvm?: boolean
  roles?: string
  skipInvalid?: boolean
}

function addReadOptions(command: Command): Command {
  return command
    .addOption(new Option('--format <format>', 'file format (default: from the extension; a CSV with the incident list\'s header is read as incidents)').choices(SEED_FORMATS))
    .option('--program <code...>', 'SDN: keep profiles with one of these programs (e.g. DPRK3)')
    .option('--name <name...>', 'SDN: keep profiles with one of these primary names (default "Lazarus Group" unless --program or --all-eth)')
    .option('--all-eth', 'SDN: every profile\'s "Digital Currency Address - ETH" (no name filter)')
    .option('--all-evm', 'SDN: also EVM-format addresses of other assets (USDT/USDC on Ethereum, other EVM chains)')
    .option('--roles <roles>', 'incident list: comma-separated roles taken as seeds (default attacker; also mixer_depositor, mixer_withdrawer)')
    .option('--skip-invalid', 'report invalid entries (file:line: bad addresses, the zero address, labels or sources beyond their length bound) and import the rest, instead of failing')
}

async function readFlagsFile(file: string | undefined, flags: ReadFlags): Promise<SeedFileRead> {
  if (flags.default === true && file !== undefined) throw new InputError('INVALID_ARGUMENT', 'give a file or --default, not both', { field: 'file', value: file })
  const path = flags.default === true ? DEFAULT_SEEDS : file
  if (path === undefined) throw new InputError('INVALID_ARGUMENT', 'missing seed file (or --default for the shipped set)', { field: 'file' })
  return readSeedsFrom(path, {
    ...(flags.default === true ? { format: 'csv' as const } : flags.format === undefined ? {} : { format: flags.format }),
    ...(flags.program === undefined ? {} : { program: flags.program }),
    ...(flags.name === undefined ? {} : { name: flags.name }),
    ...(flags.allEth === true ? { allEth: true } : {}),
    ...(flags.allEvm === true ? { allEvm: true } : {}),
    ...(flags.roles === undefined ? {} : { roles: flags.roles.split(',').map((r) => r.trim()).filter(Boolean) }),
    ...(flags.skipInvalid === true ? { skipInvalid: true } : {}),
  })
}

function reportSkipped(skipped: readonly SkippedEntry[]): void {
  for (const s of skipped) {
    const what = s.code === 'INVALID_ADDRESS' ? 'invalid address' : `${s.field ?? 'value'} out of bounds`
    process.stderr.write(`${terminalSafe(`skipped: ${s.file}${s.line === undefined ? '' : `:${s.line}`}: ${what} ${JSON.stringify(s.value)} (${s.reason})`)}\n`)
  }
}

const checksum = (addresses: readonly Address[]) => addresses.map((a) => toChecksumAddress(a))

/** After a seed change: extend the last walk incrementally when it is still a valid basis. */
async function followWalk(ctx: Context, walk: boolean, json: boolean): Promise<{ summary: TraceSummary | null; reason?: string }> {
  if (!walk) return { summary: null, reason: '--no-walk' }
  const bar = json ? null : progressBar('updating walk |{bar}| {labelled} labelled | frontier {frontier}')
  try {
    const result = await updateWalkAfterSeedChange(ctx.store, {
      redisUrl: ctx.options.redisUrl,
      batchSize: ctx.options.batchSize,
      workers: ctx.options.workers,
      concurrency: ctx.options.concurrency,
      signal: ctx.signal,
      onNote: ctx.note,
      onProgress: (p) => {
        const labelled = Object.values(p.labelled).reduce((a, b) => a + b, 0)
        bar?.update(labelled, labelled + p.frontier, { labelled: formatCount(labelled), frontier: formatCount(p.frontier) })
      },
    })
    return result.summary === null ? { summary: null, reason: result.reason } : { summary: result.summary }
  } finally {
    bar?.stop()
  }
}

function describeWalk(walk: { summary: TraceSummary | null; reason?: string }, changed: boolean): string {
  if (!changed) return ''
  if (walk.summary !== null) {
    const s = walk.summary
    return `walk updated incrementally in ${s.seconds.toFixed(2)} s (+${s.added} / -${s.removed} seeds; ${Object.entries(s.labelled).map(([d, n]) => `${d} ${formatCount(n)} labelled`).join(', ')}).\n`
  }
  return `the walk was not updated (${walk.reason}); run 'exposure trace' for answers with the new seed set.\n`
}

function changeJson(applied: AppliedChange, walk: { summary: TraceSummary | null; reason?: string }) {
  return {
    version: applied.change?.version ?? null,
    added: checksum(applied.plan.added),
    updated: checksum(applied.plan.updated),
    removed: checksum(applied.plan.remove),
    unchanged: applied.plan.unchanged,
    walk: walk.summary ?? { updated: false, reason: walk.reason },
  }
}

export function registerSeeds(program: Command): void {
  const seeds = program.command('seeds').description('the seed set: addresses attributed to the adversary, with provenance; every change is versioned')

  addReadOptions(
    seeds
      .command('import')
      .description(
        'import seeds: CSV address,label,source (more columns kept as provenance), JSON array, TXT, OFAC sdn_advanced.xml(.bz2|.gz), the FBI Bybit list, the Lazarus incident list, a GraphSense TagPack. ' +
          'All or nothing; an address already seeded gets one more provenance. Updates the last walk incrementally when it is still current.',
      )
      .argument('[file]', 'seed file'),
  )
    .option('--default', 'import the shipped default set (data/default-seeds.csv: OFAC Lazarus Group, FBI Bybit, incident attackers)')
    .option('--replace', "first drop every stored provenance from this file's sources (see 'seeds diff'): delisted addresses leave the set")
    .option('--no-walk', 'do not update the last walk')
    .option('--json', 'print JSON')
    .action(async (file: string | undefined, flags: ReadFlags & { replace?: boolean; walk: boolean; json?: boolean }, command: Command) => {
      // Parse and validate the whole file before touching the store: a bad row changes nothing.
      const read = await readFlagsFile(file, flags)
      reportSkipped(read.skipped)
      await withContext(command.optsWithGlobals(), async (ctx) => {
        const versions = createSeedVersions(ctx.redis, ctx.store.keys)
        const label = `${flags.replace === true ? 'import --replace' : 'import'} ${read.file} (${read.format}${read.filters.length > 0 ? `; ${read.filters.join('; ')}` : ''})`
        const applied = await versions.apply('import', label, (current) => planImport(current, read.seeds, { replace: flags.replace === true, scope: read.scope }))
        const walk = await followWalk(ctx, flags.walk && applied.change !== null, flags.json === true)
        const total = await ctx.redis.hlen(ctx.store.keys.seeds)
        if (flags.json) {
          return printJson({ file: read.file, format: read.format, filters: read.filters, read: read.seeds.length, skipped: read.skipped, total, ...changeJson(applied, walk) })
        }
        const { plan, change } = applied
        process.stdout.write(
          `read ${read.seeds.length} seeds from ${terminalSafe(read.file)} (${read.format}${read.filters.length > 0 ? `; ${terminalSafe(read.filters.join('; '))}` : ''})` +
            `${read.skipped.length > 0 ? `, skipped ${read.skipped.length} invalid` : ''}: ` +
            `${plan.added.length} added, ${plan.updated.length} updated, ${plan.remove.length} removed, ${plan.unchanged} unchanged. ` +
            `${change === null ? 'Nothing changed' : `Seed set version ${change.version}`}; the store holds ${total} seeds.\n`,
        )
        process.stdout.write(describeWalk(walk, change !== null))
      }, { write: true })
    })

  seeds
    .command('list')
    .description('list the seeds with their provenance')
    .option('--json', 'print JSON (every provenance of each seed under "provenance")')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ store, redis }) => {
        const list = await store.listSeeds()
        const version = Number((await redis.get(store.keys.seedVersion)) ?? 0)
        if (flags.json) {
          return printJson({
            version,
            seeds: list.map((s) => {
              const { sources: _sources, ...extra } = s.extra ?? {}
              return { address: toChecksumAddress(s.address), label: s.label, source: s.source, extra, provenance: provenancesOf(s).map(({ address: _a, ...p }) => p) }
            }),
          })
        }
        printTable(
          ['address', 'label', 'sources', 'incident', 'listed', 'confidence'],
          list.map((s) => [toChecksumAddress(s.address), s.label, provenancesOf(s).map((p) => p.source), s.extra?.incident ?? '', s.extra?.listed ?? '', s.extra?.confidence ?? '']),
        )
        process.stdout.write(`${list.length} seeds, version ${version}\n`)
      })
    })

  addReadOptions(
    seeds
      .command('diff')
      .description(
        "what importing a file would change: 'add' (new addresses) and 'update' (addresses that gain a provenance) for 'seeds import'; " +
          "'remove' for 'seeds import --replace': stored addresses whose every provenance comes from this file's sources (same source family, and the same SDN filter) and which the file no longer lists; " +
          "addresses that would lose such a provenance but keep another are listed under 'drop-provenance'",
      )
      .argument('<file>', 'seed file'),
  )
    .option('--json', 'print JSON')
    .action(async (file: string, flags: ReadFlags & { json?: boolean }, command: Command) => {
      const read = await readFlagsFile(file, flags)
      reportSkipped(read.skipped)
      await withContext(command.optsWithGlobals(), async (ctx) => {
        const current = await createSeedVersions(ctx.redis, ctx.store.keys).current()
        const additive = planImport(current, read.seeds)
        const replacing = planImport(current, read.seeds, { replace: true, scope: read.scope })
        const listed = new Set(read.seeds.map((s) => s.address))
        const dropProvenance = replacing.updated.filter((a) => !listed.has(a))
        const diff = {
          file: read.file,
          format: read.format,
          filters: read.filters,
          sourceFamilies: read.families,
          add: checksum(additive.added),
          update: checksum(additive.updated),
          unchanged: additive.unchanged,
          remove: checksum(replacing.remove),
          dropProvenance: checksum(dropProvenance),
        }
        if (flags.json) return printJson(diff)
        const rows: string[][] = [
          ...diff.add.map((a) => ['add', a]),
          ...diff.update.map((a) => ['update', a]),
          ...diff.remove.map((a) => ['remove (--replace)', a]),
          ...diff.dropProvenance.map((a) => ['drop-provenance (--replace)', a]),
        ]
        if (rows.length > 0) printTable(['change', 'address'], rows)
        process.stdout.write(
          `${diff.add.length} to add, ${diff.update.length} to update, ${diff.unchanged} unchanged; with --replace ${diff.remove.length} to remove and ${diff.dropProvenance.length} to drop a provenance ` +
            `(sources: ${terminalSafe(read.families.join(' | ')) || 'none'}).\n`,
        )
      })
    })

  seeds
    .command('remove')
    .description('remove seeds (every provenance of the given addresses, or every provenance whose source equals or begins with --source); versioned; updates the last walk incrementally when it is still current')
    .argument('[addresses...]', 'seed addresses')
    .option('--source <source>', 'remove the provenances of this source (e.g. "OFAC SDN" or a file\'s source column)')
    .option('--no-walk', 'do not update the last walk')
    .option('--json', 'print JSON')
    .action(async (values: string[], flags: { source?: string; walk: boolean; json?: boolean }, command: Command) => {
      if ((values.length === 0) === (flags.source === undefined)) throw new InputError('INVALID_ARGUMENT', 'give seed addresses or --source, not both and not neither', { field: 'addresses' })
      if (flags.source !== undefined && flags.source.trim() === '') throw new InputError('INVALID_ARGUMENT', '--source must not be empty', { field: 'source', value: flags.source })
      const addresses = values.map((v, i) => parseAddress(v, { field: `address argument ${i + 1}` }))
      await withContext(command.optsWithGlobals(), async (ctx) => {
        const versions = createSeedVersions(ctx.redis, ctx.store.keys)
        let unknown: Address[] = []
        const label = flags.source !== undefined ? `remove --source ${flags.source}` : `remove ${addresses.length} address(es)`
        const applied = await versions.apply('remove', label, (current) => {
          const plan = planRemove(current, flags.source !== undefined ? { source: flags.source } : { addresses })
          unknown = plan.unknown
          return plan
        })
        if (unknown.length > 0 && applied.change === null) {
          throw new InputError('INVALID_ARGUMENT', 'not a seed', { field: 'address', value: checksum(unknown).join(',') })
        }
        if (flags.source !== undefined && applied.change === null) throw new InputError('INVALID_ARGUMENT', 'no seed has a provenance from this source', { field: 'source', value: flags.source })
        const walk = await followWalk(ctx, flags.walk && applied.change !== null, flags.json === true)
        const total = await ctx.redis.hlen(ctx.store.keys.seeds)
        if (flags.json) return printJson({ total, notSeeds: checksum(unknown), ...changeJson(applied, walk) })
        for (const a of unknown) process.stderr.write(`warning: ${toChecksumAddress(a)} is not a seed\n`)
        process.stdout.write(`${applied.plan.remove.length} removed, ${applied.plan.updated.length} kept with their other provenance(s). Seed set version ${applied.change!.version}; the store holds ${total} seeds.\n`)
        process.stdout.write(describeWalk(walk, true))
      }, { write: true })
    })

  seeds
    .command('history')
    .description('every version of the seed set: when, what changed, from which file or removal')
    .option('--json', 'print JSON (every address of every change)')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async (ctx) => {
        const history = await createSeedVersions(ctx.redis, ctx.store.keys).history()
        if (flags.json) return printJson(history.map((h) => ({ ...h, added: checksum(h.added), removed: checksum(h.removed), updated: checksum(h.updated) })))
        printTable(
          ['version', 'time', 'action', 'added', 'removed', 'updated', 'source'],
          history.map((h) => [h.version, h.time, h.action, h.added.length, h.removed.length, h.updated.length, h.source]),
        )
      })
    })

  program
    .command('labels')
    .description('service labels: exchanges, DEXs, bridges, mixers… (stop nodes by category)')
    .command('import')
    .description(
      'import labels: CSV address,label,category[,source]; an Etherscan-style JSON map address → {name, labels}; an Etherscan per-label CSV (category from the file name or --category); a TagPack. ' +
        'All or nothing. An address labelled twice keeps the category that comes first (mixer, bridge, exchange, dex, …). Mixers are stop nodes by default.',
    )
    .argument('[file]', 'label file')
    .addOption(new Option('--format <format>', 'file format (default: from the extension and the CSV header)').choices(LABEL_FORMATS))
    .option('--category <category>', 'category (or Etherscan slug) for files that carry none')
    .option('--include-uncategorized', "keep Etherscan addresses whose slugs map to no category, as 'other'")
    .option('--default', 'import the shipped default labels (data/default-labels.csv)')
    .option('--skip-invalid', 'report invalid entries (file:line: bad addresses, labels or sources beyond their length bound) and import the rest, instead of failing')
    .option('--json', 'print JSON')
    .action(
      async (
        file: string | undefined,
        flags: { format?: LabelFormat; category?: string; includeUncategorized?: boolean; default?: boolean; skipInvalid?: boolean; json?: boolean },
        command: Command,
      ) => {
        if (flags.default === true && file !== undefined) throw new InputError('INVALID_ARGUMENT', 'give a file or --default, not both', { field: 'file', value: file })
        const path = flags.default === true ? DEFAULT_LABELS : file
        if (path === undefined) throw new InputError('INVALID_ARGUMENT', 'missing label file (or --default for the shipped set)', { field: 'file' })
        const { labels, skipped } = await readLabelsFrom(path, {
          ...(flags.default === true ? { format: 'csv' as const } : flags.format === undefined ? {} : { format: flags.format }),
          ...(flags.category === undefined ? {} : { category: flags.category }),
          ...(flags.includeUncategorized === true ? { includeUncategorized: true } : {}),
          ...(flags.skipInvalid === true ? { skipInvalid: true } : {}),
        })
        reportSkipped(skipped)
        await withContext(command.optsWithGlobals(), async ({ store, redis, options }) => {
          const incoming = mergeLabels(labels)
          const existing = incoming.length === 0 ? [] : await redis.hmget(store.keys.labels, ...incoming.map((l) => l.address))
          const merged = incoming.map((label, i) => {
            const old = existing[i]
            return old ? mergeLabels([JSON.parse(old) as ServiceLabel, label])[0]! : label
          })
          const changed = merged.filter((label, i) => existing[i] !== JSON.stringify(label))
          await store.putLabels(changed)
          const byCategory = new Map<string, number>()
          for (const l of incoming) byCategory.set(l.category, (byCategory.get(l.category) ?? 0) + 1)
          const categories = Object.fromEntries([...byCategory].sort(([a], [b]) => (a < b ? -1 : 1)))
          const stops = Object.keys(categories).filter((c) => options.stopCategories.includes(c))
          if (flags.json) return printJson({ file: path, read: labels.length, addresses: incoming.length, written: changed.length, categories, stopCategories: stops, skipped })
          process.stdout.write(
            `read ${labels.length} labels for ${incoming.length} addresses from ${path} (${Object.entries(categories).map(([c, n]) => `${c} ${n}`).join(', ')}); ${changed.length} new or changed. ` +
              `Stop nodes among them: ${stops.join(', ') || 'none'}. Run 'exposure trace' for them to take effect.\n`,
          )
        }, { write: true })
      },
    )
}
