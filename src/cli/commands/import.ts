import type { Command } from 'commander'
import { importEtl } from '../../sources/etl-import.ts'
import { withContext } from '../context.ts'
import { formatCount, printJson, printTable, progressBar, terminalSafe } from '../output.ts'

export function registerImport(program: Command): void {
  program
    .command('import')
    .description(
      'import ethereum-etl exports (BigQuery\'s public Ethereum dataset format): transactions.csv, traces.csv, token_transfers.csv, and receipts.csv ' +
        '(the receipt status for transactions.csv files without a receipt_status column, as ethereum-etl\'s export_blocks_and_transactions writes them: ' +
        'without a status a transaction is skipped as no-receipt), any of them .csv.gz; folders or files. All or nothing: a bad row names file:line and field.',
    )
    .argument('<paths...>', 'folders holding etl files, or the files')
    .option('--skip-invalid', 'count malformed rows and go on, instead of rejecting the import')
    .option('--json', 'print the summary as JSON')
    .action(async (paths: string[], flags: { skipInvalid?: boolean; json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ store, options }) => {
        const bar = progressBar('{phase} |{bar}| {percentage}% | {transfers} transfers')
        const summary = await importEtl(store, paths, {
          listedTokens: options.listedTokens,
          skipInvalid: flags.skipInvalid ?? false,
          onProgress: (p) => bar.update(p.done, p.total, { phase: p.phase === 'read' ? 'reading  ' : 'merging  ', transfers: formatCount(p.transfers) }),
        }).finally(() => bar.stop())
        for (const error of summary.invalid) process.stderr.write(`skipped: ${terminalSafe(error.message)}\n`)
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
          `rows read ${formatCount(summary.rows)}, transfers counted ${formatCount(summary.transfersCounted)}, new in the store ${formatCount(summary.transfersAdded)}, addresses touched ${formatCount(summary.addresses)} (${summary.seconds.toFixed(1)} s)\n`,
        )
      })
    })
}
