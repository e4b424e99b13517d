import type { Command } from 'commander'
import { InputError } from '../../errors.ts'
import { describeHolder } from '../../store/holder.ts'
import { finishStagedImport, importEtl, type ImportProgress } from '../../sources/etl-import.ts'
import { DEFAULT_RANGE_BYTES, importEtlAsJobs } from '../../sources/etl-ingest.ts'
import { createEtlIngestQueue } from '../../queues/ingest-queue.ts'
import { quietRedis } from '../../store/redis.ts'
import { startEtlIngestWorker } from '../../queues/workers/ingest.ts'
import { countFlag } from './sync.ts'
import { withContext, type Context } from '../context.ts'
import { formatCount, printJson, printTable, progressBar } from '../output.ts'

/** In-process ingest workers at most: each is a parser and a Redis connection. */
const MAX_IMPORT_WORKERS = 32

const PHASES: Record<ImportProgress['phase'], string> = { read: 'reading  ', prepare: 'merging  ', apply: 'writing  ' }

function commitHooks(ctx: Context, bar: ReturnType<typeof progressBar>) {
  return {
    signal: ctx.signal,
    onWait: (holder: Parameters<typeof describeHolder>[0]) => ctx.note(`waiting: another process is writing store ${ctx.store.keys.prefix} (${describeHolder(holder)}); this import commits when it is done`),
    onProgress: (p: ImportProgress) => bar.update(p.done, p.total, { phase: PHASES[p.phase], transfers: formatCount(p.transfers) }),
  }
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'import ethereum-etl exports (BigQuery\'s public Ethereum dataset format): transactions.csv, traces.csv, token_transfers.csv, and receipts.csv ' +
        '(the receipt status for transactions.csv files without a receipt_status column, as ethereum-etl\'s export_blocks_and_transactions writes them: ' +
        'without a status a transaction is skipped as no-receipt), any of them .csv.gz; folders or files. All or nothing: a bad row names file:line and field. ' +
        'Any order and any split into commands gives the same store (token transfers wait in the store for their transactions).',
    )
    .argument('[paths...]', 'folders holding etl files, or the files')
    .option('--skip-invalid', 'count malformed rows and go on, instead of rejecting the import')
    .option('--resume [id]', 'commit an import that was interrupted after reading all its files (status lists them)')
    .option('--abort [id]', 'drop an import that was interrupted before its commit')
    .option('--ingest-workers <n>', `read the files as BullMQ ingest jobs (one per file; receipts with the transactions) with n workers in this process, 0 to ${MAX_IMPORT_WORKERS}; with 0, \`exposure worker --queues ingest\` processes on any host that sees the same paths run them. Still one commit, all or nothing`)
    .option('--ingest-range <size>', `with --ingest-workers: a plain CSV file larger than this is read by several jobs, a byte range each (e.g. 64MiB, 1GiB; 0 for whole files; default ${DEFAULT_RANGE_BYTES / 1024 / 1024}MiB). Gzip files, receipts and the transactions they complete stay whole`)
    .option('--json', 'print the summary as JSON')
    .action(async (paths: string[], flags: { skipInvalid?: boolean; json?: boolean; resume?: string | boolean; abort?: string | boolean; ingestWorkers?: string; ingestRange?: string }, command: Command) => {
      const finishing = flags.resume !== undefined ? 'resume' : flags.abort !== undefined ? 'abort' : null
      if (finishing !== null && paths.length > 0) throw new InputError('INVALID_ARGUMENT', `--${finishing} takes no files (it finishes an earlier import)`, { field: finishing, value: paths.join(' ') })
      if (flags.resume !== undefined && flags.abort !== undefined) throw new InputError('INVALID_ARGUMENT', '--resume and --abort exclude each other', { field: 'resume' })
      if (finishing === null && paths.length === 0) throw new InputError('INVALID_ARGUMENT', 'missing etl files or folders to import (or --resume / --abort)', { field: 'paths' })
      const ingestWorkers = countFlag('ingest-workers', flags.ingestWorkers, 'ingest workers', MAX_IMPORT_WORKERS)
      if (finishing !== null && ingestWorkers !== undefined) throw new InputError('INVALID_ARGUMENT', `--ingest-workers reads files; --${finishing} reads none`, { field: 'ingest-workers', value: String(flags.ingestWorkers) })
      const rangeBytes = flags.ingestRange === undefined ? undefined : byteSize('ingest-range', flags.ingestRange)
      if (rangeBytes !== undefined && ingestWorkers === undefined) throw new InputError('INVALID_ARGUMENT', '--ingest-range splits the files of ingest jobs: give --ingest-workers too', { field: 'ingest-range', value: flags.ingestRange! })
      await withContext(command.optsWithGlobals(), async (ctx) => {
        const bar = progressBar('{phase} |{bar}| {percentage}% | {transfers} transfers')
        if (finishing !== null) {
          const id = typeof (finishing === 'resume' ? flags.resume : flags.abort) === 'string' ? String(finishing === 'resume' ? flags.resume : flags.abort) : undefined
          const { importId, result } = await finishStagedImport(ctx.store, finishing, id, commitHooks(ctx, bar)).finally(() => bar.stop())
          if (flags.json) return printJson({ importId, action: finishing, ...(result ?? {}) })
          process.stdout.write(result === null ? `dropped import ${importId}: nothing of it is in the store\n` : `committed import ${importId}: ${formatCount(result.transfersAfter - result.transfersBefore)} new transfers, ${formatCount(result.addresses)} addresses changed\n`)
          return
        }
        const importOptions = { listedTokens: ctx.options.listedTokens, skipInvalid: flags.skipInvalid ?? false, ...commitHooks(ctx, bar) }
        let summary: Awaited<ReturnType<typeof importEtl>>
        if (ingestWorkers === undefined) summary = await importEtl(ctx.store, paths, importOptions).finally(() => bar.stop())
        else {
          const { redisUrl, prefix } = ctx.options
          const connection = quietRedis(redisUrl, { maxRetriesPerRequest: null })
          const queue = createEtlIngestQueue(connection, ctx.store.keys.queuePrefix)
          try {
            summary = await importEtlAsJobs(ctx.store, paths, {
              ...importOptions,
              queue,
              startWorkers: () => Array.from({ length: ingestWorkers }, () => startEtlIngestWorker({ redisUrl, prefix })),
              ...(rangeBytes === undefined ? {} : { rangeBytes }),
              onNoWorker: (jobs) => ctx.note(`waiting: no worker serves the etl ingest queue of store ${prefix} (${jobs} jobs queued); start one with 'exposure worker --queues ingest' on a host that sees the same paths, or run import with --ingest-workers 1 or more`),
            }).finally(() => bar.stop())
          } finally {
            await queue.close().catch(() => undefined)
            connection.disconnect()
          }
        }
        for (const error of summary.invalid) ctx.note(`skipped: ${error.message}`)
        if (summary.tokensPending > 0) ctx.note(`note: ${formatCount(summary.tokensPending)} token transfers wait for their transactions (not in this import nor in the store yet); they join when a later import brings them`)
        if (summary.tokensAmbiguous > 0) ctx.note(`warning: ${formatCount(summary.tokensAmbiguous)} token transfers name a transaction whose hash prefix is not unique in its block; they were not counted`)
        if (flags.json) {
          printJson({ ...summary, invalid: summary.invalid.map((e) => ({ code: e.code, message: e.message, ...e.details })) })
          return
        }
        printTable(
          ['file', 'table', 'rows', 'transfers', 'skipped by rule'],
          summary.files.map((f) => [
            f.file,
            f.kind,
            formatCount(f.rows),
            formatCount(f.transfers),
            Object.entries(f.skipped).map(([rule, n]) => `${rule} ${formatCount(n)}`).join(', ') || '-',
          ]),
        )
        process.stdout.write(
          `rows read ${formatCount(summary.rows)}, transfers counted ${formatCount(summary.transfersCounted)}${summary.tokensResolved > 0 ? ` (+${formatCount(summary.tokensResolved)} token transfers joined to stored transactions)` : ''}, new in the store ${formatCount(summary.transfersAdded)}, addresses changed ${formatCount(summary.addresses)}${summary.changed ? '' : ' (the store already held all of it: nothing written)'} (${summary.seconds.toFixed(1)} s)\n`,
        )
      }, { write: true })
    })
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 }

/** A size like 4096, 64k, 64MiB or 1.5GiB in bytes (binary multiples); bad input names the flag. */
export function byteSize(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined
  if (!match || unit === undefined) throw new InputError('INVALID_ARGUMENT', `--${flag} must be a size such as 64MiB, 1GiB or 4096 (bytes): ${JSON.stringify(value)}`, { field: flag, value })
  return Math.floor(Number(match[1]) * unit)
}
