import type { Command } from 'commander'
import { buildOptions } from '../../config.ts'
import { InputError } from '../../errors.ts'
import { exportEtl } from '../../sources/export-etl.ts'
import { formatCount, printJson, printTable, progressBar } from '../output.ts'
import { handleInterruption } from '../signals.ts'
import { blockFlag } from './sync.ts'

export function registerExportEtl(program: Command): void {
  program
    .command('export-etl')
    .description('write blocks of a JSON-RPC node (RPC_URL) as ethereum-etl CSVs: transactions.csv, traces.csv, token_transfers.csv (it reads the node, not the store)')
    .argument('<dir>', 'folder to write (created if missing; the three files are replaced only when the whole range was read)')
    .requiredOption('--from-block <n>', 'first block')
    .requiredOption('--to-block <n>', 'last block')
    .option('--rpc-url <url>', 'JSON-RPC endpoint (default RPC_URL)')
    .option('--json', 'print the summary as JSON')
    .action(async (dir: string, flags: { fromBlock: string; toBlock: string; rpcUrl?: string; json?: boolean }, command: Command) => {
      const fromBlock = blockFlag('from-block', flags.fromBlock)!
      const toBlock = blockFlag('to-block', flags.toBlock)!
      if (toBlock < fromBlock) throw new InputError('INVALID_ARGUMENT', `--to-block ${toBlock} is before --from-block ${fromBlock}`, { field: 'to-block', value: flags.toBlock })
      const options = buildOptions({ ...command.optsWithGlobals(), rpcUrl: flags.rpcUrl }, process.env)
      if (options.rpcUrl === '') throw new InputError('INVALID_CONFIG', 'no Ethereum node configured: pass --rpc-url or set RPC_URL', { field: 'rpcUrl' })
      const bar = progressBar('exporting |{bar}| {value}/{total} blocks')
      const interruption = handleInterruption((signal) => process.stderr.write(`${signal}: stopping; the folder stays as it was\n`))
      const summary = await exportEtl({ rpcUrl: options.rpcUrl, fromBlock, toBlock, dir, rpc: { concurrency: options.rpcConcurrency, deadlineMs: options.rpcDeadlineMs }, signal: interruption.signal, onProgress: (done, total) => bar.update(done, total) }).finally(() => {
        bar.stop()
        interruption.dispose()
      })
      if (flags.json) return printJson(summary)
      printTable(['file', 'rows'], [['transactions.csv', formatCount(summary.transactions)], ['traces.csv', formatCount(summary.traces)], ['token_transfers.csv', formatCount(summary.tokenTransfers)]])
      process.stdout.write(`exported blocks ${fromBlock}-${toBlock} to ${summary.dir} in ${summary.seconds.toFixed(1)} s\n`)
    })
}
