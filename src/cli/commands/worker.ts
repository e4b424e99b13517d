import type { Command } from 'commander'
import { buildOptions } from '../../config.ts'
import { InputError } from '../../errors.ts'
import { connectRedis, evictionWarning } from '../../store/redis.ts'
import { runWalkWorkerProcess } from '../../../workers/walk.ts'

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a long-lived walk worker (BullMQ); SIGTERM/SIGINT let running jobs finish')
    .option('--concurrency <n>', 'jobs at once (default 2)')
    .option('--lock-duration <ms>', 'how long a job stays locked without a heartbeat: a killed worker\'s job is retried after about this long', '10000')
    .action(async (flags: { concurrency?: string; lockDuration: string }, command: Command) => {
      const options = buildOptions({ ...command.optsWithGlobals(), concurrency: flags.concurrency }, process.env)
      // Fail fast with a clear message if Redis is not there, before BullMQ starts retrying.
      const probe = await connectRedis(options.redisUrl)
      const warning = await evictionWarning(probe)
      if (warning) process.stderr.write(`${warning}\n`)
      probe.disconnect()
      const lockDuration = Number(flags.lockDuration)
      if (!Number.isInteger(lockDuration) || lockDuration < 500) throw new InputError('INVALID_ARGUMENT', `--lock-duration must be an integer number of milliseconds ≥ 500: ${JSON.stringify(flags.lockDuration)}`, { field: 'lock-duration', value: flags.lockDuration })
      await runWalkWorkerProcess({ redisUrl: options.redisUrl, prefix: options.prefix, concurrency: options.concurrency, lockDuration, stalledInterval: Math.max(250, Math.floor(lockDuration / 2)) })
    })
}
