import type { Command } from 'commander'
import { readLabelFile, readSeedFile } from '../../seeds/files.ts'
import { toChecksumAddress } from '../../seeds/address.ts'
import { withContext } from '../context.ts'
import { printJson, printTable } from '../output.ts'

export function registerSeeds(program: Command): void {
  const seeds = program.command('seeds').description('the seed set: addresses attributed to the adversary, with provenance')
  seeds
    .command('import')
    .description('import seeds: CSV with header address,label,source (more columns kept as provenance) or a JSON array of such objects')
    .argument('<file>', 'seed file')
    .action(async (file: string, _flags: unknown, command: Command) => {
      // Parse the whole file before touching the store: a bad row leaves the seed set as it was.
      const parsed = await readSeedFile(file)
      await withContext(command.optsWithGlobals(), async ({ store }) => {
        await store.putSeeds(parsed.seeds)
        const total = (await store.stats()).seeds
        process.stdout.write(`imported ${parsed.seeds.length} seeds from ${file}; the store holds ${total}. Run 'exposure trace' to walk from them.\n`)
      })
    })
  seeds
    .command('list')
    .description('list the seeds with their provenance')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ store }) => {
        const list = await store.listSeeds()
        if (flags.json) return printJson(list.map((s) => ({ ...s, address: toChecksumAddress(s.address) })))
        printTable(['address', 'label', 'source', 'provenance'], list.map((s) => [toChecksumAddress(s.address), s.label, s.source, Object.entries(s.extra ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')]))
      })
    })

  program
    .command('labels')
    .description('service labels: exchanges, DEXs, bridges, mixers… (stop nodes)')
    .command('import')
    .description('import labels: CSV with header address,label,category (a source column is kept)')
    .argument('<file>', 'label file')
    .action(async (file: string, _flags: unknown, command: Command) => {
      const parsed = await readLabelFile(file)
      await withContext(command.optsWithGlobals(), async ({ store }) => {
        await store.putLabels(parsed.labels)
        const byCategory = new Map<string, number>()
        for (const l of parsed.labels) byCategory.set(l.category, (byCategory.get(l.category) ?? 0) + 1)
        process.stdout.write(`imported ${parsed.labels.length} labels from ${file} (${[...byCategory].map(([c, n]) => `${c} ${n}`).join(', ')}). Run 'exposure trace' for them to take effect.\n`)
      })
    })
}
