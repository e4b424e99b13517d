import { Command, Option } from 'commander'
import { HOPS_HELP } from '../../config.ts'
import { InputError } from '../../errors.ts'
import { createWalkSourceHook, parseWalkSource, prepareWalkSource, requireSourceConfig, WALK_SOURCES, walkSourceConfig } from '../../sources/walk-source.ts'
import { traceWalk } from '../../walk/incremental.ts'
import { DIRECTIONS, type Direction } from '../../types.ts'
import { withContext } from '../context.ts'
import { retryNotes } from '../retry-note.ts'
import { countFlag, MAX_CONFIRMATIONS } from './sync.ts'
import { formatCount, printJson, printTable, progressBar } from '../output.ts'

export function registerTrace(program: Command): void {
  program
    .command('trace')
    .description('walk outward from the seeds with BullMQ workers and record every address\'s hops; returns when the walk is complete')
    .option('--hops <n>', HOPS_HELP)
    .addOption(new Option('--direction <direction>', 'which exposure to compute').choices(['downstream', 'upstream', 'both']).default('both'))
    .option('--workers <n>', 'in-process workers (default 2, or EXPOSURE_WORKERS)')
    .option('--no-workers', 'start no workers here: separate `exposure worker` processes do the walk')
    .option('--concurrency <n>', 'jobs per worker at once')
    .option('--batch-size <n>', 'frontier addresses per job')
    .option('--incremental', 'walk only what changed since the last complete walk (seeds added or removed, new transfers, new or former stop nodes), when that walk had the same parameters and no rollback removed transfers since (else a full walk; the summary says which)')
    .addOption(new Option('--source <source>', 'where expanded addresses\' transfers come from: store (what import/sync wrote), rpc (the node\'s per-address lookups, fetched lazily; RPC_URL), etherscan (the account API, fetched lazily; ETHERSCAN_URL, ETHERSCAN_API_KEY)').choices([...WALK_SOURCES]).default('store'))
    .option('--rpc-url <url>', 'JSON-RPC endpoint for --source rpc (default RPC_URL)')
    .option('--confirmations <n>', 'for --source rpc|etherscan: head − N is final (default EXPOSURE_CONFIRMATIONS; unset: the node\'s finalized tag, else 64)')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: { hops?: string; direction: string; workers?: string | boolean; concurrency?: string; batchSize?: string; incremental?: boolean; source: string; rpcUrl?: string; confirmations?: string; json?: boolean }, command: Command) => {
      const globals = command.optsWithGlobals()
      const source = parseWalkSource(flags.source)
      const workerFlag = flags.workers === false ? undefined : flags.workers === true ? undefined : flags.workers
      const confirmations = countFlag('confirmations', flags.confirmations, 'blocks', MAX_CONFIRMATIONS)
      await withContext({ ...globals, maxHops: flags.hops, workers: workerFlag, concurrency: flags.concurrency, batchSize: flags.batchSize, rpcUrl: flags.rpcUrl, confirmations }, async ({ store, options, signal, note }) => {
        const directions: Direction[] = flags.direction === 'both' ? [...DIRECTIONS] : [flags.direction as Direction]
        const sourceConfig = { ...walkSourceConfig(options), onRetry: retryNotes(note) }
        requireSourceConfig(source, sourceConfig)
        if ((await store.redis.hlen(store.keys.seeds)) === 0) throw new InputError('INVALID_ARGUMENT', 'the store has no seeds: import some first (exposure seeds import <file>)', { field: 'seeds' })
        const coverage = await prepareWalkSource(store, source, sourceConfig)
        // In-process workers fetch lazily through the same hook as `exposure worker` processes.
        const hook = createWalkSourceHook(store, sourceConfig)
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
          ...(source === 'store' ? {} : { beforeExpand: hook.beforeExpand }),
          source: coverage.choice,
          signal,
          onNote: note,
          onProgress: (p) => {
            const labelled = Object.values(p.labelled).reduce((a, b) => a + b, 0)
            bar.update(labelled, labelled + p.frontier, { labelled: formatCount(labelled), frontier: formatCount(p.frontier) })
          },
        }, { incremental: flags.incremental === true }).finally(async () => {
          bar.stop()
          await hook.close()
        })
        const lazy = source === 'store' ? undefined : { requests: hook.requests(), addressesFetched: hook.fetched() }
        const { choice: _choice, ...coverageJson } = coverage
        if (flags.json) return printJson({ ...summary, maxHops: options.maxHops, directions, coverage: coverageJson, ...(lazy ? { lazy } : {}) })
        printTable(
          ['direction', 'addresses within ' + options.maxHops + ' hops', 'seeds'],
          directions.map((d) => [d, formatCount(summary.labelled[d]), summary.seeds]),
        )
        process.stdout.write(`walk ${summary.runId} (${summary.mode}${summary.mode === 'incremental' ? `: +${summary.added} / -${summary.removed} seeds` : ''}) complete in ${summary.seconds.toFixed(2)} s\n`)
        if (summary.reason !== undefined) process.stdout.write(`full walk: ${summary.reason}\n`)
        process.stdout.write(`answers cover ${coverage.detail}${coverage.throughBlock === null ? '' : `; final up to block ${coverage.throughBlock}`}\n`)
        if (lazy) process.stdout.write(`lazy ${source} history: ${formatCount(lazy.addressesFetched)} addresses fetched here, ${formatCount(lazy.requests)} requests (in-process workers only)\n`)
      }, { write: true })
    })
}
