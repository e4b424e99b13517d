import type { Command } from 'commander'
import { buildOptions } from '../../config.ts'
import { InputError } from '../../errors.ts'
import { createGraphStore } from '../../store/graph-store.ts'
import { connectRedis, guardOutage, quietRedis, quietStoreRedis, refuseEviction } from '../../store/redis.ts'
import { createWalkSourceHook, walkSourceConfig } from '../../sources/walk-source.ts'
import { runWorkerProcess, type WorkerQueue } from '../../queues/workers/process.ts'
import { onDemandDefaults } from '../../walk/on-demand-check.ts'

const QUEUE_NAMES: readonly WorkerQueue[] = ['walk', 'ingest', 'check', 'rescan', 'deliver']

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run long-lived BullMQ workers: walk jobs (exposure trace), ingest jobs (exposure sync, exposure import --ingest-workers), check jobs (exposure serve), rescans (on EXPOSURE_RESCAN_CRON, installed as a job scheduler) and webhook deliveries; SIGTERM/SIGINT let running jobs finish')
    .option('--queues <list>', 'which queues to serve, comma-separated: walk, ingest, check, rescan, deliver (default walk, and ingest when a node is configured; --queues ingest without a node serves etl files only)')
    .option('--concurrency <n>', 'jobs at once per queue (default 2)')
    .option('--rpc-url <url>', 'JSON-RPC endpoint for ingest jobs and lazy rpc walks (default RPC_URL)')
    .option('--lock-duration <ms>', 'how long a walk or etl ingest job stays locked without a heartbeat: a killed worker\'s job is retried after about this long', '10000')
    .action(async (flags: { queues?: string; concurrency?: string; rpcUrl?: string; lockDuration: string }, command: Command) => {
      const options = buildOptions({ ...command.optsWithGlobals(), concurrency: flags.concurrency, rpcUrl: flags.rpcUrl }, process.env)
      let queues: WorkerQueue[]
      if (flags.queues === undefined) {
        queues = options.rpcUrl === '' ? ['walk'] : ['walk', 'ingest']
        if (options.rpcUrl === '') process.stderr.write('note: no node configured (RPC_URL / --rpc-url): serving walk jobs only\n')
      } else {
        const names = flags.queues.split(',').map((q) => q.trim()).filter((q) => q.length > 0)
        const bad = names.find((q) => !(QUEUE_NAMES as readonly string[]).includes(q))
        if (bad !== undefined || names.length === 0) throw new InputError('INVALID_ARGUMENT', `--queues must list walk, ingest, check, rescan and/or deliver: ${JSON.stringify(flags.queues)}`, { field: 'queues', value: flags.queues })
        queues = [...new Set(names)] as WorkerQueue[]
        if (queues.includes('ingest') && options.rpcUrl === '') process.stderr.write("note: no node configured (RPC_URL / --rpc-url): serving etl ingest jobs (exposure import --ingest-workers) only, not sync's block ranges\n")
      }
      const lockDuration = Number(flags.lockDuration)
      if (!Number.isInteger(lockDuration) || lockDuration < 500) throw new InputError('INVALID_ARGUMENT', `--lock-duration must be an integer number of milliseconds ≥ 500: ${JSON.stringify(flags.lockDuration)}`, { field: 'lock-duration', value: flags.lockDuration })
      // Fail fast with a clear message if Redis is not there, before BullMQ starts retrying; then keep
      // the connection to report outages once each way (workers ride them out, as BullMQ does).
      const probe = await connectRedis(options.redisUrl, { forWorker: true })
      try {
        const warning = await refuseEviction(probe, options.allowEviction)
        if (warning) process.stderr.write(`${warning}\n`)
        await createGraphStore(probe, options.prefix).assertFormat()
      } catch (error) {
        probe.disconnect()
        throw error
      }
      const say = (line: string) => process.stderr.write(`worker: ${line}\n`)
      const guard = guardOutage(probe, options.redisUrl, { onDown: say, onUp: say })
      // Lazy walks (exposure trace --source rpc|etherscan): the walk meta says which source; the
      // URLs and the API key are this process's own configuration.
      const hookRedis = quietStoreRedis(options.redisUrl, { maxRetriesPerRequest: 3 })
      const hook = createWalkSourceHook(createGraphStore(hookRedis, options.prefix), walkSourceConfig(options))
      await runWorkerProcess({
        queues,
        walk: { redisUrl: options.redisUrl, prefix: options.prefix, concurrency: options.concurrency, lockDuration, stalledInterval: Math.max(250, Math.floor(lockDuration / 2)), beforeExpand: hook.beforeExpand },
        ingest: { redisUrl: options.redisUrl, prefix: options.prefix, rpcUrl: options.rpcUrl, lockDuration, listedTokens: options.listedTokens, concurrency: options.concurrency, rpc: { concurrency: options.rpcConcurrency, deadlineMs: options.rpcDeadlineMs } },
        check: { redisUrl: options.redisUrl, prefix: options.prefix, riskPolicy: options.riskPolicy, sourceConfig: walkSourceConfig(options), defaults: onDemandDefaults(options), ...(flags.concurrency === undefined ? {} : { concurrency: options.concurrency }) },
        rescan: { options },
        deliver: { redisUrl: options.redisUrl, prefix: options.prefix, backoffMs: options.webhookBackoffMs, retryForMs: options.webhookRetryForMs, ...(flags.concurrency === undefined ? {} : { concurrency: options.concurrency }) },
        onClose: async () => {
          await hook.close()
          hookRedis.disconnect()
          guard.stop()
          probe.disconnect()
        },
      })
    })
}
