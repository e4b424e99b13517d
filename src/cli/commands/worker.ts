import type { Command } from 'commander'
import { buildOptions } from '../../config.ts'
import { connectRedis, evictionWarning } from '../../store/redis.ts'
import { runWalkWorkerProcess } from '../../../workers/walk.ts'

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a long-lived walk worker (BullMQ); SIGTERM/SIGINT let running jobs finish')
    .option('--concurrency <n>', 'jobs at once (default 2)')
    .action(async (flags: { concurrency?: string }, command: Command) => {
      const options = buildOptions({ ...command.optsWithGlobals(), concurrency: flags.concurrency }, process.env)
      // Fail fast with a clear message if Redis is not there, before BullMQ starts retrying.
      const probe = await connectRedis(options.redisUrl)
      const warning = await evictionWarning(probe)
      if (warning) process.stderr.write(`${warning}\n`)
      probe.disconnect()
      await runWalkWorkerProcess({ redisUrl: options.redisUrl, prefix: options.prefix, concurrency: options.concurrency })
    })
}
