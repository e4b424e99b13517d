import type { Command } from 'commander'
import { runRescan } from '../../watch/rescan.ts'
import { withContext } from '../context.ts'
import { printJson, printTable } from '../output.ts'

export function registerRescan(program: Command): void {
  program
    .command('rescan')
    .description(
      'run one rescan now: re-read the configured seed and label files (EXPOSURE_SEED_SOURCES, EXPOSURE_LABEL_SOURCES), import new etl files (EXPOSURE_ETL_INBOX) and, for a store synced from a node (RPC_URL), its new final blocks; ' +
        'update the walk incrementally, answer every watched wallet again and raise an alert for each changed answer. One at a time per store: a second one says so and does nothing.',
    )
    .option('--json', 'print the summary as JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ store, options, signal, note }) => {
        const result = await runRescan(store, { options, trigger: 'cli', signal, onNote: note, ...(flags.json ? {} : { onStep: (s) => note(`${s.name}: ${s.detail} (${s.seconds.toFixed(2)} s)`) }) })
        if (flags.json) return printJson(result)
        if (result.status === 'busy') {
          process.stdout.write(`${result.message}\n`)
          return
        }
        printTable(['step', 'seconds', 'what'], result.steps.map((s) => [s.name, s.seconds.toFixed(2), s.detail]))
        process.stdout.write(
          `rescan ${result.id}: ${result.watched} watched, ${result.evaluated} answered, ${result.changed} changed, ${result.alerts} new alert(s), ${result.deliveriesQueued} deliveries queued; ` +
            `store version ${result.versions.before.storeVersion} → ${result.versions.after.storeVersion}, seed set ${result.versions.before.seedVersion} → ${result.versions.after.seedVersion}, labels ${result.versions.before.labelsVersion} → ${result.versions.after.labelsVersion}; ${result.seconds.toFixed(2)} s\n`,
        )
      }, { write: true })
    })
}
