import type { Command } from 'commander'
import { createWalkQueue } from '../../queues/walk-queue.ts'
import { evictionWarning } from '../../store/redis.ts'
import { createChecker } from '../../walk/check.ts'
import { describeCapabilities, type RpcCapabilities } from '../../sources/rpc/capabilities.ts'
import { syncKeys } from '../../sources/rpc/ingest.ts'
import { withContext } from '../context.ts'
import { formatCount, printJson, printTable } from '../output.ts'

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('what the store holds, the last walk, the queue, and Redis memory')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async ({ store, redis, options }) => {
        const stats = await store.stats()
        const walk = await createChecker(store, options.riskPolicy).walkInfo()
        const queue = createWalkQueue(redis.duplicate({ maxRetriesPerRequest: null }), store.keys.queuePrefix)
        const jobs = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed')
        await queue.close()
        await queue.disconnect()
        const memory = Object.fromEntries(
          (await redis.info('memory'))
            .split('\r\n')
            .filter((l) => l.includes(':'))
            .map((l) => l.split(':') as [string, string]),
        )
        const warning = await evictionWarning(redis)
        // JSON-RPC sync: what the node offered at the last `exposure sync`, and how far blocks are final.
        const sk = syncKeys(store.keys.prefix)
        const [capsJson, cursor] = await Promise.all([redis.get(sk.caps), redis.get(sk.cursor)])
        const sync = capsJson === null ? null : { capabilities: JSON.parse(capsJson) as RpcCapabilities, finalThrough: cursor === null ? null : Number(cursor) }
        const status = { store: { prefix: store.keys.prefix, ...stats }, walk, jobs, sync, redis: { usedMemory: Number(memory.used_memory ?? 0), maxmemoryPolicy: memory.maxmemory_policy ?? null, warning } }
        if (flags.json) return printJson(status)
        printTable(
          ['store', store.keys.prefix],
          [
            ['transfers', formatCount(stats.transfers)],
            ['addresses', formatCount(stats.addresses)],
            ['seeds', formatCount(stats.seeds)],
            ['service labels', formatCount(stats.labels)],
            ['last import', stats.lastImport ?? '-'],
            ['last walk', walk.runId ? `${walk.runId}: ${walk.status}, ${walk.directions.join('+')}, ${walk.maxHops} hops, finished ${walk.finishedAt ?? '-'}` : 'never'],
            ['answers final up to', walk.runId === null ? '-' : walk.finalBlock === null ? 'no finality line (etl imports)' : `block ${walk.finalBlock}`],
            ['rpc sync', sync === null ? 'never' : `final through block ${sync.finalThrough ?? '-'}; node: ${describeCapabilities(sync.capabilities)}`],
            ['walk jobs', Object.entries(jobs).map(([k, v]) => `${k} ${v}`).join(', ')],
            ['redis memory', `${(Number(memory.used_memory ?? 0) / 1048576).toFixed(1)} MiB (policy ${memory.maxmemory_policy ?? '?'})`],
          ],
        )
        if (warning) process.stderr.write(`${warning}\n`)
      })
    })
}
