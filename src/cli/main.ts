import { Command, CommanderError } from 'commander'
import { exitCodeFor, isExposureError } from '../errors.ts'
import { registerCheck } from './commands/check.ts'
import { registerDemo } from './commands/demo.ts'
import { registerImport } from './commands/import.ts'
import { registerSeeds } from './commands/seeds.ts'
import { registerStatus } from './commands/status.ts'
import { registerSync } from './commands/sync.ts'
import { registerExportEtl } from './commands/export-etl.ts'
import { registerTrace } from './commands/trace.ts'
import { registerWorker } from './commands/worker.ts'
import { terminalSafe } from './output.ts'

/**
 * `exposure`: thin commands that parse, call src/, print. Exit statuses: 0 ok, 1 failure, 2 bad
 * input (a named value: file:line, field).
 */
export function createProgram(): Command {
  const program = new Command('exposure')
    .description('How close does a wallet sit to Lazarus Group funds? Time-respecting hop exposure on Ethereum.')
    .option('--redis-url <url>', 'Redis of the graph store and queues (default REDIS_URL or redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'key prefix of the store, kept in a hash tag (default EXPOSURE_PREFIX or {exposure})')
    .showHelpAfterError()
    .exitOverride()
  registerImport(program)
  registerSeeds(program)
  registerTrace(program)
  registerCheck(program)
  registerWorker(program)
  registerStatus(program)
  registerSync(program)
  registerExportEtl(program)
  registerDemo(program)
  return program
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = createProgram()
  try {
    await program.parseAsync([...argv])
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander already printed usage problems; --help and --version exit 0.
      return error.exitCode === 0 ? 0 : 2
    }
    const message = isExposureError(error) ? error.message : error instanceof Error ? error.message : String(error)
    // Messages quote values from files and flags: escape what would steer the terminal.
    process.stderr.write(`error: ${terminalSafe(message)}\n`)
    if (!isExposureError(error) && error instanceof Error && process.env.EXPOSURE_DEBUG) process.stderr.write(`${error.stack}\n`)
    return exitCodeFor(error)
  }
}

// Run when executed (bin/exposure.mjs, `node --import tsx src/cli/main.ts`), not when imported by tests.
const invokedDirectly = process.argv[1] !== undefined && /(?:cli[\\/]main\.ts|bin[\\/]exposure(?:\.mjs)?)$/.test(process.argv[1])
if (invokedDirectly) {
  main(process.argv).then((code) => {
    // Exit once stdout is flushed: a lingering socket must not keep a finished command alive.
    process.stdout.write('', () => process.exit(code))
  })
}
