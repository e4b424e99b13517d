import type { Command } from 'commander'
import { InputError } from '../../errors.ts'
import { describeCapabilities } from '../../sources/rpc/capabilities.ts'
import { readCursor, syncKeys } from '../../sources/rpc/ingest.ts'
import { runSync } from '../../sources/rpc/sync.ts'
import { withContext } from '../context.ts'
import { formatCount, printJson, printTable, progressBar } from '../output.ts'

/** A block number flag: a non-negative integer (decimal, or 0x hex), else exit 2 naming it. */
export function blockFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = /^\d+$/.test(value) ? Number(value) : /^0x[0-9a-fA-F]+$/.test(value) ? Number.parseInt(value, 16) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new InputError('INVALID_ARGUMENT', `--${name} must be a block number (a non-negative integer): ${JSON.stringify(value)}`, { field: name, value })
  return n
}

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('sync blocks from a JSON-RPC node (RPC_URL) into the store: final blocks through BullMQ ingest jobs; --follow tracks the head and corrects reorgs')
    .option('--from-block <n>', 'first block (default: one past the last synced block)')
    .option('--to-block <n>', 'last block (default: the finalized block, or head − confirmations)')
    .option('--follow', 'keep following the head (Ctrl-C to stop); blocks above the finality line are written as tentative and rolled back on a reorg')
    .option('--rpc-url <url>', 'JSON-RPC endpoint (default RPC_URL)')
    .option('--confirmations <n>', 'blocks below the head that count as final (default EXPOSURE_CONFIRMATIONS; unset: the node\'s finalized tag, else 64)')
    .option('--range <n>', 'blocks per ingest job (default 100, or EXPOSURE_SYNC_RANGE)')
    .option('--workers <n>', 'in-process ingest workers (default 2; 0: separate `exposure worker` processes run the ingest jobs)')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: { fromBlock?: string; toBlock?: string; follow?: boolean; rpcUrl?: string; confirmations?: string; range?: string; workers?: string; json?: boolean }, command: Command) => {
      // --workers here counts ingest workers (0 allowed), not the walk's EXPOSURE_WORKERS option.
      const { workers: _ingestWorkers, ...globals } = command.optsWithGlobals()
      let fromBlock = blockFlag('from-block', flags.fromBlock)
      const toBlock = blockFlag('to-block', flags.toBlock)
      if (toBlock !== undefined && flags.follow) throw new InputError('INVALID_ARGUMENT', '--to-block and --follow exclude each other', { field: 'to-block', value: String(flags.toBlock) })
      if (fromBlock !== undefined && toBlock !== undefined && toBlock < fromBlock) throw new InputError('INVALID_ARGUMENT', `--to-block ${toBlock} is before --from-block ${fromBlock}`, { field: 'to-block', value: String(flags.toBlock) })
      const confirmations = flags.confirmations === undefined ? undefined : blockFlag('confirmations', flags.confirmations)
      const workers = flags.workers === undefined ? 2 : blockFlag('workers', flags.workers)!
      await withContext({ ...globals, rpcUrl: flags.rpcUrl, syncRangeSize: flags.range, confirmations }, async ({ store, options }) => {
        // The flag, else EXPOSURE_CONFIRMATIONS; with neither, the node's finalized tag decides.
        const depth = options.confirmationsExplicit ? options.confirmations : undefined
        if (fromBlock === undefined) {
          const cursor = await readCursor(store.redis, syncKeys(store.keys.prefix))
          if (cursor === null) throw new InputError('INVALID_ARGUMENT', 'nothing synced yet: pass --from-block', { field: 'from-block' })
          fromBlock = cursor + 1
        }
        const bar = progressBar('syncing  |{bar}| {value}/{total} blocks')
        const abort = new AbortController()
        const stop = () => abort.abort()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        const summary = await runSync(store, {
          redisUrl: options.redisUrl,
          rpcUrl: options.rpcUrl,
          listedTokens: options.listedTokens,
          fromBlock,
          ...(toBlock === undefined ? {} : { toBlock }),
          follow: flags.follow ?? false,
          ...(depth === undefined ? {} : { confirmations: depth }),
          rangeSize: options.syncRangeSize,
          workers,
          concurrency: options.concurrency,
          rpc: { concurrency: options.rpcConcurrency },
          signal: abort.signal,
          onProgress: (p) => bar.update(p.done, p.total),
          onEvent: (e) => {
            if (e.type === 'reorg') process.stderr.write(`reorg: blocks ${e.from}-${e.to} changed; ${e.transfersRemoved} transfers rolled back, reading again\n`)
          },
        }).finally(() => {
          bar.stop()
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
        })
        if (flags.json) return printJson(summary)
        printTable(
          ['', ''],
          [
            ['node', describeCapabilities(summary.capabilities)],
            ['final through block', summary.finalThrough === null ? '-' : formatCount(summary.finalThrough)],
            ['tentative through block', summary.tentativeThrough === null ? '-' : formatCount(summary.tentativeThrough)],
            ['ingest jobs', formatCount(summary.jobs)],
            ['reorgs corrected', formatCount(summary.reorgs)],
            ['rpc requests', `${formatCount(summary.rpc.requests)} (${formatCount(summary.rpc.calls)} calls, ${formatCount(summary.rpc.retries)} retries)`],
          ],
        )
        process.stdout.write(`synced from block ${summary.fromBlock} in ${summary.seconds.toFixed(1)} s; answers are final up to block ${summary.finalThrough ?? '-'}\n`)
      }, { write: true })
    })
}
