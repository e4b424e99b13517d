import type { Command } from 'commander'
import type { Redis } from 'ioredis'
import { createWalkQueue } from '../../queues/walk-queue.ts'
import { describeHolder } from '../../store/holder.ts'
import { formatBytes, memoryInfo } from '../../store/memory.ts'
import { clusterLayout, evictionWarning, quietDuplicate, scanKeys } from '../../store/redis.ts'
import { PENDING_TOKEN } from '../../store/tx-index.ts'
import type { StoreKeys } from '../../store/keys.ts'
import type { GraphStore } from '../../store/graph-store.ts'
import type { Options } from '../../config.ts'
import { createChecker } from '../../walk/check.ts'
import { describeCapabilities, type RpcCapabilities } from '../../sources/rpc/capabilities.ts'
import { readStoreChain } from '../../sources/rpc/chain.ts'
import { describeRanges, finalThrough, parseRange, readCoverage, syncKeys } from '../../sources/rpc/ingest.ts'
import { withContext } from '../context.ts'
import { createRescanQueue, RESCAN_SCHEDULER } from '../../queues/watch-queues.ts'
import { rescanRunning, type RescanSummary } from '../../watch/rescan.ts'
import { formatCount, printJson, printTable } from '../output.ts'

/** Token transfers waiting for their transactions (store/tx-index.ts). */
async function pendingTokens(redis: Redis, keys: StoreKeys): Promise<{ transfers: number; blocks: number }> {
  let transfers = 0
  let blocks = 0
  await scanKeys(redis, keys.pendingTokensPattern, async (found) => {
    for (const key of found) {
      const values = await redis.hvalsBuffer(key)
      blocks += values.length
      for (const v of values) transfers += v.length / PENDING_TOKEN
    }
  })
  return { transfers: Math.round(transfers), blocks }
}

/** The last rescan (its summary), the next scheduled one (ISO, null: none scheduled) and the running one. */
async function rescanStatus(store: GraphStore, redis: Redis) {
  const lastJson = await redis.get(store.keys.rescanLast)
  const last = lastJson === null ? null : (JSON.parse(lastJson) as Omit<RescanSummary, 'alertIds'>)
  const queue = createRescanQueue(quietDuplicate(redis, { maxRetriesPerRequest: null }), store.keys.queuePrefix)
  let next: string | null = null
  let cron: string | null = null
  try {
    const scheduler = await queue.getJobScheduler(RESCAN_SCHEDULER)
    if (scheduler?.next !== undefined) next = new Date(scheduler.next).toISOString()
    cron = scheduler?.pattern ?? null
  } finally {
    await queue.close()
    await queue.disconnect()
  }
  const running = await rescanRunning(store)
  return {
    last: last === null ? null : { id: last.id, trigger: last.trigger, startedAt: last.startedAt, finishedAt: last.finishedAt, seconds: last.seconds, watched: last.watched, changed: last.changed, alerts: last.alerts, walk: last.walk.mode },
    next,
    cron,
    running,
  }
}

/** What `exposure status --json` prints (and GET /v1/status answers), with what the table needs besides. */
export async function collectStatus({ store, redis, options }: { store: GraphStore; redis: Redis; options: Options }) {
  const stats = await store.stats()
  const walks = await createChecker(store, options.riskPolicy).walkInfo()
  const imports = await store.imports.list()
  const pending = await pendingTokens(redis, store.keys)
  const queue = createWalkQueue(quietDuplicate(redis, { maxRetriesPerRequest: null }), store.keys.queuePrefix)
  const jobs = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed')
  await queue.close()
  await queue.disconnect()
  const memory = await memoryInfo(redis)
  const masters = await clusterLayout(redis, store.keys.durabilityKeys)
  const warning = await evictionWarning(redis)
  const published = walks.published
  const latest = walks.latest
  // JSON-RPC sync: what the node offered at the last `exposure sync`, and how far blocks are final.
  const sk = syncKeys(store.keys.prefix)
  const [capsJson, coverage, chain, tentative, fork] = await Promise.all([redis.get(sk.caps), readCoverage(redis, sk), readStoreChain(redis, store.keys.prefix), redis.hkeys(sk.tentative), redis.hgetall(sk.fork)])
  const sync = capsJson === null && chain === null ? null : {
    capabilities: capsJson === null ? null : (JSON.parse(capsJson) as RpcCapabilities),
    finalThrough: finalThrough(coverage),
    coverage,
    tentativeThrough: tentative.length === 0 ? null : Math.max(...tentative.map(Number)),
    chain,
    rollbackInProgress: fork.from === undefined ? null : { from: Number(fork.from), to: Number(fork.to) },
  }
  const rescan = await rescanStatus(store, redis)
  const walkCoverage = published === null ? [] : ((await redis.hget(store.keys.walkCurrent, 'sourceCoverage')) ?? '').split(',').map(parseRange).filter((r) => r !== null)
  const status = {
    store: { prefix: store.keys.prefix, ...stats, pendingTokenTransfers: pending.transfers },
    walk: published === null ? null : {
      runId: published.runId,
      finishedAt: published.finishedAt,
      directions: published.directions,
      maxHops: published.params.maxHops,
      source: published.source,
      finalBlock: published.sourceThrough,
      coverage: walkCoverage,
      stale: walks.staleReasons.length > 0,
      staleReasons: walks.staleReasons,
    },
    latestWalk: latest === null ? null : { runId: latest.runId, status: latest.status, startedAt: latest.startedAt, finishedAt: latest.finishedAt, error: latest.error },
    imports: imports.map((i) => ({ id: i.id, kind: i.kind, state: i.state, detail: i.detail, holder: i.holder === null ? null : describeHolder(i.holder), alive: i.alive, bytes: i.bytes, created: new Date(i.created).toISOString() })),
    jobs,
    sync,
    redis: { usedMemory: memory.used, maxmemory: memory.maxmemory, maxmemoryPolicy: memory.policy, warning, ...(masters === null ? {} : { masters }) },
    rescan,
  }
  return { status, rescan, stats, walks, imports, pending, jobs, memory, masters, warning, sync, walkCoverage }
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('what the store holds, the published walk and the latest attempt, unfinished imports, the queue, and Redis memory')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, command: Command) => {
      await withContext(command.optsWithGlobals(), async (ctx) => {
        const { store } = ctx
        const { status, rescan, stats, walks, imports, pending, jobs, memory, masters, warning, sync, walkCoverage } = await collectStatus(ctx)
        const published = walks.published
        const latest = walks.latest
        if (flags.json) return printJson(status)
        const rows: (string | number)[][] = [
          ['transfers', formatCount(stats.transfers)],
          ['addresses', formatCount(stats.addresses)],
          ['seeds', formatCount(stats.seeds)],
          ['service labels', formatCount(stats.labels)],
          ['last import', stats.lastImport === null ? '-' : `${stats.lastImport} (store version ${stats.version})`],
          ['published walk', published === null ? 'none: check has no answers yet (run exposure trace)' : `${published.runId}: ${published.directions.join('+')}, ${published.params.maxHops} hops, source ${published.source}, finished ${published.finishedAt}`],
          ['answers final up to', published === null ? '-' : published.sourceThrough === null ? 'no finality line (etl imports)' : `block ${published.sourceThrough}${walkCoverage.length > 1 ? ` (the walk read blocks ${describeRanges(walkCoverage)})` : ''}`],
          ['answers stale', published === null ? '-' : walks.staleReasons.length === 0 ? 'no' : `yes: ${walks.staleReasons.map((r) => r.detail).join('; ')}`],
        ]
        if (latest !== null && latest.runId !== published?.runId) {
          rows.push(['latest walk', `${latest.runId}: ${latest.status}${latest.error ? ` (${latest.error})` : ''}${latest.status === 'running' ? '' : '; answers come from the published walk'}`])
        }
        for (const i of imports) {
          rows.push([`import ${i.id}`, `${i.kind}, ${i.state}, ${formatBytes(i.bytes)} in Redis; ${i.alive && i.holder ? `in progress (${describeHolder(i.holder)})` : i.state === 'staged' ? "interrupted: 'exposure import --resume' or '--abort'" : 'interrupted'}: ${i.detail}`])
        }
        if (pending.transfers > 0) rows.push(['token transfers waiting', `${formatCount(pending.transfers)} in ${formatCount(pending.blocks)} blocks wait for their transactions (import transactions.csv of those blocks)`])
        rows.push(
          ['rpc sync', sync === null ? 'never' : [
            `blocks ${describeRanges(sync.coverage)}`,
            `final through block ${sync.finalThrough ?? '-'}`,
            ...(sync.capabilities === null ? [] : [`node: ${describeCapabilities(sync.capabilities)}`]),
            ...(sync.chain === null ? [] : [`store chain ${sync.chain.chainId}, genesis ${sync.chain.genesis}`]),
            ...(sync.tentativeThrough === null ? [] : [`tentative through block ${sync.tentativeThrough}`]),
            ...(sync.rollbackInProgress === null ? [] : [`rollback of blocks ${sync.rollbackInProgress.from}-${sync.rollbackInProgress.to} unfinished (the next sync finishes it)`]),
          ].join('; ')],
          ['last rescan', rescan.last === null ? 'never' : `${rescan.last.id} (${rescan.last.trigger}) finished ${rescan.last.finishedAt} in ${rescan.last.seconds.toFixed(2)} s: ${rescan.last.watched} watched, ${rescan.last.changed} changed, ${rescan.last.alerts} alerts; walk ${rescan.last.walk}`],
          ['next rescan', rescan.running !== null ? `running now (${rescan.running})` : rescan.next === null ? 'not scheduled (EXPOSURE_RESCAN_CRON with exposure worker --queues rescan)' : `${rescan.next} (cron "${rescan.cron}")`],
          ['walk jobs', Object.entries(jobs).map(([k, v]) => `${k} ${v}`).join(', ')],
          ['redis memory', `${formatBytes(memory.used)}${memory.maxmemory > 0 ? ` of maxmemory ${formatBytes(memory.maxmemory)}` : ''} (policy ${memory.policy ?? '?'})`],
          ...(masters === null ? [] : masters.map((m): [string, string] => [`master ${m.node}`, `${formatCount(m.keys)} keys, ${formatBytes(m.usedMemory)}, ${m.tags} of the store's ${store.keys.durabilityKeys.length} hash tags`])),
        )
        printTable(['store', store.keys.prefix], rows)
        if (warning) process.stderr.write(`${warning}\n`)
        const spread = masters === null ? null : unevenTags(masters.map((m) => m.tags), store.keys.durabilityKeys.length)
        if (spread) process.stderr.write(`${spread}\n`)
      })
    })
}

/**
 * A note when the store's hash tags fall unevenly on a cluster's masters (redis-cli's equal slot
 * ranges do that once masters are many): the busiest master fills first, so it is the one to size.
 */
export function unevenTags(tagsPerMaster: readonly number[], tags: number): string | null {
  if (tagsPerMaster.length < 2) return null
  const busiest = Math.max(...tagsPerMaster)
  const mean = tags / tagsPerMaster.length
  if (busiest <= 1.25 * mean) return null
  return `note: the store's ${tags} hash tags fall unevenly on the ${tagsPerMaster.length} masters: the busiest holds ${busiest} (${(busiest / mean).toFixed(2)}× the mean), and it fills first: size masters for it. For a new cluster, exposure cluster-slots --masters ${tagsPerMaster.length} plans slot ranges that split them evenly.`
}
