import { Command, Option } from 'commander'
import { InputError } from '../../errors.ts'
import { traceWalk } from '../../walk/incremental.ts'
import { DIRECTIONS, type Direction } from '../../types.ts'
import { withContext } from '../context.ts'
import { formatCount, printJson, printTable, progressBar } from '../output.ts'

export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description('walk outward from the seeds with BullMQ workers and record every address\'s hops; returns when the walk is complete')
    .option('--hops <n>', 'longest path to follow (default 4, or EXPOSURE_MAX_HOPS)')
    .addOption(new Option('--direction <direction>', 'which exposure to compute').choices(['downstream', 'upstream', 'both']).default('both'))
    .option('--workers <n>', 'in-process workers (default 2, or EXPOSURE_WORKERS)')
    .option('--no-workers', 'start no workers here: separate `exposure worker` processes do the walk')
    .option('--concurrency <n>', 'jobs per worker at once')
    .option('--batch-size <n>', 'frontier addresses per job')
    .option('--incremental', 'walk only what changed in the seed set since the last complete walk, when that walk had the same parameters and no transfers or labels changed since (else a full walk; the summary says which)')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: { hops?: string; direction: string; workers?: string | boolean; concurrency?: string; batchSize?: string; incremental?: boolean; json?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals()
      const workerFlag = flags.workers === false ? undefined : flags.workers === true ? undefined : flags.workers
      await withContext({ ...globals, maxHops: flags.hops, workers: workerFlag, concurrency: flags.concurrency, batchSize: flags.batchSize }, async ({ store, options }) => {
        const directions: Direction[] = flags.direction === 'both' ? [...DIRECTIONS] : [flags.direction as Direction]
        if ((await store.redis.hlen(store.keys.seeds)) === 0) throw new InputError('INVALID_ARGUMENT', 'the store has no seeds: import some first (exposure seeds import <file>)', { field: 'seeds' })
        const bar = progressBar('walking  |{bar}| {labelled} addresses labelled | frontier {frontier}')
        const summary = await traceWalk(store, {
          redisUrl: options.redisUrl,
          directions,
          maxHops: options.maxHops,
          batchSize: options.batchSize,
          stopCategories: options.stopCategories,
          counterpartyCap: options.counterpartyCap,
          dust: options.dust,
          workers: flags.workers === false ? 0 : options.workers,
          concurrency: options.concurrency,
          onProgress: (p) => {
            const labelled = Object.values(p.labelled).reduce((a, b) => a + b, 0)
            bar.update(labelled, labelled + p.frontier, { labelled: formatCount(labelled), frontier: formatCount(p.frontier) })
          },
        }, { incremental: flags.incremental === true }).finally(() => bar.stop())
        if (flags.json) return printJson({ ...summary, maxHops: options.maxHops, directions })
        printTable(
          ['direction', 'addresses within ' + options.maxHops + ' hops', 'seeds'],
          directions.map((d) => [d, formatCount(summary.labelled[d]), summary.seeds]),
        )
        process.stdout.write(`walk ${summary.runId} (${summary.mode}${summary.mode === 'incremental' ? `: +${summary.added} / -${summary.removed} seeds` : ''}) complete in ${summary.seconds.toFixed(2)} s\n`)
        if (summary.reason !== undefined) process.stdout.write(`full walk: ${summary.reason}\n`)
      })
    })
}
