import type { Command } from 'commander'
import { InputError } from '../../errors.ts'
import { describeCapabilities } from '../../sources/rpc/capabilities.ts'
import { describeRanges } from '../../sources/rpc/ingest.ts'
import { MAX_INGEST_WORKERS, runSync, type SyncEvent } from '../../sources/rpc/sync.ts'
import { withContext } from '../context.ts'
import { retryNotes } from '../retry-note.ts'
import { formatCount, printJson, printTable, progressBar } from '../output.ts'

/** A block number flag: a non-negative integer (decimal, or 0x hex), else exit 2 naming it. */
export function blockFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = /^\d+$/.test(value) ? Number(value) : /^0x[0-9a-fA-F]+$/.test(value) ? Number.parseInt(value, 16) : Number.NaN
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new InputError('INVALID_ARGUMENT', `--${name} must be a block number (a non-negative integer): ${JSON.stringify(value)}`, { field: name, value })
  return n
}

/** A count flag (`--workers`, `--confirmations`): a whole number in [0, max], else exit 2 saying what it counts. */
export function countFlag(name: string, value: string | undefined, what: string, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(n) || n > max) throw new InputError('INVALID_ARGUMENT', `--${name} must be a whole number of ${what} from 0 to ${max}: ${JSON.stringify(value)}`, { field: name, value })
  return n
}

/** Most confirmations a flag accepts (as EXPOSURE_CONFIRMATIONS). */
export const MAX_CONFIRMATIONS = 100_000

/** The line a sync event gives on stderr (null: nothing to say). */
export function describeSyncEvent(e: SyncEvent): string | null {
  switch (e.type) {
    case 'reorg':
      return e.belowFinality
        ? `fork: blocks ${e.from}-${e.to} were replaced on the node, below the finality line (they had been written as final); ${e.transfersRemoved} transfers rolled back, reading them again`
        : `reorg: blocks ${e.from}-${e.to} changed above the finality line; ${e.transfersRemoved} transfers rolled back, reading them again`
    case 'node-down':
      return `the node is unreachable (${e.error}); trying again in ${(e.retryInMs / 1000).toFixed(1)} s`
    case 'node-up':
      return `the node answers again (after ${(e.downMs / 1000).toFixed(1)} s); following the head`
    default:
      return null
  }
}

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('sync blocks from a JSON-RPC node (RPC_URL) into the store: final blocks through BullMQ ingest jobs; --follow tracks the head and corrects reorgs')
    .option('--from-block <n>', 'first block (default: the first block the store holds: a sync continues, and fills any hole)')
    .option('--to-block <n>', 'last block (default: the finalized block, or head − confirmations); a block above the finality line is refused')
    .option('--follow', 'keep following the head (Ctrl-C to stop); blocks above the finality line are written as tentative and rolled back on a reorg')
    .option('--rpc-url <url>', 'JSON-RPC endpoint (default RPC_URL)')
    .option('--confirmations <n>', 'blocks below the head that count as final (default EXPOSURE_CONFIRMATIONS; unset: the node\'s finalized tag, else 64)')
    .option('--range <n>', 'blocks per ingest job (default 100, or EXPOSURE_SYNC_RANGE)')
    .option('--workers <n>', `in-process ingest workers, 0 to ${MAX_INGEST_WORKERS} (default 2; 0: separate \`exposure worker\` processes run the ingest jobs)`)
    .option('--json', 'print the summary as JSON')
    .action(async (flags: { fromBlock?: string; toBlock?: string; follow?: boolean; rpcUrl?: string; confirmations?: string; range?: string; workers?: string; json?: boolean }, command: Command) => {
      // --workers here counts ingest workers (0 allowed), not the walk's EXPOSURE_WORKERS option.
      const { workers: _ingestWorkers, ...globals } = command.optsWithGlobals()
      const fromBlock = blockFlag('from-block', flags.fromBlock)
      const toBlock = blockFlag('to-block', flags.toBlock)
      if (toBlock !== undefined && flags.follow) throw new InputError('INVALID_ARGUMENT', '--to-block and --follow exclude each other', { field: 'to-block', value: String(flags.toBlock) })
      if (fromBlock !== undefined && toBlock !== undefined && toBlock < fromBlock) throw new InputError('INVALID_ARGUMENT', `--to-block ${toBlock} is before --from-block ${fromBlock}`, { field: 'to-block', value: String(flags.toBlock) })
      const confirmations = countFlag('confirmations', flags.confirmations, 'blocks', MAX_CONFIRMATIONS)
      const workers = countFlag('workers', flags.workers, 'ingest workers', MAX_INGEST_WORKERS) ?? 2
      await withContext({ ...globals, rpcUrl: flags.rpcUrl, syncRangeSize: flags.range, confirmations }, async ({ store, options, signal, note }) => {
        // The flag, else EXPOSURE_CONFIRMATIONS; with neither, the node's finalized tag decides.
        const depth = options.confirmationsExplicit ? options.confirmations : undefined
        const bar = progressBar('syncing  |{bar}| {value}/{total} blocks')
        const summary = await runSync(store, {
          redisUrl: options.redisUrl,
          rpcUrl: options.rpcUrl,
          listedTokens: options.listedTokens,
          ...(fromBlock === undefined ? {} : { fromBlock }),
          ...(toBlock === undefined ? {} : { toBlock }),
          follow: flags.follow ?? false,
          ...(depth === undefined ? {} : { confirmations: depth }),
          rangeSize: options.syncRangeSize,
          workers,
          concurrency: options.concurrency,
          rpc: { concurrency: options.rpcConcurrency, deadlineMs: options.rpcDeadlineMs, onRetry: retryNotes(note) },
          signal,
          onProgress: (p) => bar.update(p.done, p.total),
          onEvent: (e) => {
            const line = describeSyncEvent(e)
            if (line !== null) note(line)
          },
          onNote: note,
        }).finally(() => bar.stop())
        if (flags.json) return printJson(summary)
        printTable(
          ['', ''],
          [
            ['node', describeCapabilities(summary.capabilities)],
            ['chain', `${summary.chain.chainId} (genesis ${summary.chain.genesis})`],
            ['read now', summary.read.length === 0 ? 'nothing: the store held every block asked for' : describeRanges(summary.read)],
            ['synced blocks', describeRanges(summary.coverage)],
            ['final through block', summary.finalThrough === null ? '-' : formatCount(summary.finalThrough)],
            ['tentative through block', summary.tentativeThrough === null ? '-' : formatCount(summary.tentativeThrough)],
            ['ingest jobs', formatCount(summary.jobs)],
            ['forks rolled back', summary.forks.length === 0 ? '0' : summary.forks.map((f) => `${f.from}-${f.to} (${f.transfersRemoved} transfers${f.belowFinality ? ', below the finality line' : ''})`).join('; ')],
            ['rpc requests', `${formatCount(summary.rpc.requests)} (${formatCount(summary.rpc.calls)} calls, ${formatCount(summary.rpc.retries)} retries)`],
          ],
        )
        const first = summary.coverage[0]
        process.stdout.write(`synced in ${summary.seconds.toFixed(1)} s; ${first === undefined ? 'no block is in the store yet' : `every block from ${first.from} to ${first.to} is in the store (answers are final up to block ${first.to})`}\n`)
      }, { write: true })
    })
}
