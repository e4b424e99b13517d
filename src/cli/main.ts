import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { Command, CommanderError } from 'commander'
import { exitCodeFor, isExposureError } from '../errors.ts'
import { storeError } from '../store/memory.ts'
import { setProcessActor } from '../store/holder.ts'
import { isConnectionError } from '../store/redis.ts'
import { registerCheck } from './commands/check.ts'
import { registerDemo } from './commands/demo.ts'
import { registerImport } from './commands/import.ts'
import { registerSeeds } from './commands/seeds.ts'
import { registerStatus } from './commands/status.ts'
import { registerSync } from './commands/sync.ts'
import { registerExportEtl } from './commands/export-etl.ts'
import { registerTaint } from './commands/taint.ts'
import { registerTrace } from './commands/trace.ts'
import { registerWorker } from './commands/worker.ts'
import type { WorkerQueue } from '../queues/workers/process.ts'
import { terminalSafe } from './output.ts'
import { registerServe } from './commands/serve.ts'
import { registerKeys } from './commands/keys.ts'
import { registerAudit } from './commands/audit.ts'
import { registerWatch } from './commands/watch.ts'
import { registerRescan } from './commands/rescan.ts'
import { registerAlerts } from './commands/alerts.ts'
import { registerWebhooks } from './commands/webhooks.ts'
import { registerExport } from './commands/export.ts'
import { registerClusterSlots } from './commands/cluster-slots.ts'
import { registerMigrate } from './commands/migrate.ts'

/**
 * `exposure`: thin commands that parse, call src/, print. Exit statuses: 0 ok, 1 failure, 2 bad
 * input (a named value: file:line, field).
 */
export function createProgram(): Command {
  const program = new Command('exposure')
    .description('How close does a wallet sit to Lazarus Group funds? Time-respecting hop exposure on Ethereum.')
    .option('--redis-url <url>', 'Redis of the graph store and queues (default REDIS_URL or redis://127.0.0.1:6379)')
    .option('--redis-cluster <nodes>', 'a Redis Cluster instead: some of its nodes as host:port, or redis://[user:password@]host:port (rediss:// for TLS), comma-separated (default REDIS_CLUSTER_NODES)')
    .option('--redis-tls-ca <file>', 'PEM file of the CA that a TLS Redis (rediss://) is verified against, instead of the system CAs (default REDIS_TLS_CA)')
    .option('--prefix <prefix>', 'key prefix of the store, kept in a hash tag (default EXPOSURE_PREFIX or {exposure})')
    .option('--allow-eviction', "write even when Redis' maxmemory-policy may evict keys (default EXPOSURE_ALLOW_EVICTION, else refused)")
    .showHelpAfterError()
    .exitOverride()
    // Locks and unfinished imports name their holder by the command it runs.
    .hook('preAction', (_program, action) => {
      const names: string[] = []
      for (let c: Command | null = action; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name())
      setProcessActor(`exposure ${names.join(' ')}`)
    })
  registerImport(program)
  registerSeeds(program)
  registerTrace(program)
  registerCheck(program)
  registerTaint(program)
  registerWorker(program)
  registerStatus(program)
  registerSync(program)
  registerExportEtl(program)
  registerDemo(program)
  registerServe(program)
  registerKeys(program)
  registerAudit(program)
  registerWatch(program)
  registerRescan(program)
  registerAlerts(program)
  registerWebhooks(program)
  registerExport(program)
  registerClusterSlots(program)
  registerMigrate(program)
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
    const message = describeFailure(error)
    // Messages quote values from files and flags: escape what would steer the terminal.
    process.stderr.write(`error: ${terminalSafe(message)}\n`)
    if (!isExposureError(error) && error instanceof Error && process.env.EXPOSURE_DEBUG) process.stderr.write(`${error.stack}\n`)
    return exitCodeFor(error)
  }
}

/** One line for any failure: our errors say what and where; Redis' own replies and faults are named as such. */
function describeFailure(error: unknown): string {
  if (isExposureError(error)) return error.message.split('\n')[0]!
  const failure = storeError(error, 'command')
  if (isExposureError(failure)) return failure.message
  if (isConnectionError(error)) return `lost the connection to Redis (${(error as Error).message}); is redis-server running?`
  if (error instanceof Error && error.name === 'ReplyError') return `Redis refused a command: ${error.message.split('\n')[0]}`
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error)
}

/** Runs `argv` as this process's command and exits with its status (the CLI, and {@link runWorkerEntry}). */
export function runAsProcess(argv: readonly string[]): void {
  // Last resort: whatever escaped is one line and exit 1, never a stack trace (EXPOSURE_DEBUG shows it).
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`error: ${terminalSafe(describeFailure(reason))}\n`)
    if (process.env.EXPOSURE_DEBUG && reason instanceof Error) process.stderr.write(`${reason.stack}\n`)
    process.exit(exitCodeFor(reason))
  })
  main(argv).then((code) => {
    // Exit once stdout is flushed: a lingering socket must not keep a finished command alive.
    process.stdout.write('', () => process.exit(code))
  })
}

/**
 * The body of a worker entry point (`node --import tsx workers/walk.ts [options]`): when the module
 * at `moduleUrl` is the process's main module, runs `exposure worker [options] --queues <queue>`
 * (same options, environment, messages, signals and exit statuses). Imported, it does nothing.
 */
export function runWorkerEntry(moduleUrl: string, queue: WorkerQueue): void {
  if (!isMainModule(moduleUrl)) return
  runAsProcess([...process.argv.slice(0, 2), 'worker', ...process.argv.slice(2), '--queues', queue])
}

function isMainModule(moduleUrl: string): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href
  } catch {
    return false
  }
}

// Run when executed (bin/exposure.mjs, `node --import tsx src/cli/main.ts`), not when imported by tests.
const invokedDirectly = process.argv[1] !== undefined && /(?:cli[\\/]main\.ts|bin[\\/]exposure(?:\.mjs)?)$/.test(process.argv[1])
if (invokedDirectly) runAsProcess(process.argv)
