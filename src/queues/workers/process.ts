import { safeOrigin } from '../../sources/rpc/client.ts'
import { startCheckWorker, type CheckWorkerOptions } from './check.ts'
import { startEtlIngestWorker, startIngestWorker, type IngestWorkerOptions } from './ingest.ts'
import { startWalkWorker, type WalkWorkerOptions } from './walk.ts'
import { startDeliverWorker, type DeliverWorkerOptions } from './deliver.ts'
import { startRescanWorker, type RescanWorkerOptions } from './rescan.ts'

export type WorkerQueue = 'walk' | 'ingest' | 'check' | 'rescan' | 'deliver'

export interface WorkerProcessOptions {
  queues: readonly WorkerQueue[]
  walk: WalkWorkerOptions
  /** Needed when `queues` holds 'ingest'. */
  ingest?: IngestWorkerOptions
  /** Needed when `queues` holds 'check'. */
  check?: CheckWorkerOptions
  /** Needed when `queues` holds 'rescan'. */
  rescan?: RescanWorkerOptions
  /** Needed when `queues` holds 'deliver'. */
  deliver?: DeliverWorkerOptions
  /** Called once while closing (after the workers closed): release what the options hold (lazy sources). */
  onClose?: () => Promise<void>
}

/**
 * `exposure worker`: one process running a walk worker and/or an ingest worker. SIGTERM/SIGINT
 * close every worker (running jobs finish, nothing new is taken) and the process exits 0.
 */
export async function runWorkerProcess(options: WorkerProcessOptions): Promise<void> {
  const started: { name: WorkerQueue; close(): Promise<void>; ready(): Promise<unknown> }[] = []
  if (options.queues.includes('walk')) {
    const w = startWalkWorker(options.walk)
    started.push({ name: 'walk', close: w.close, ready: () => w.worker.waitUntilReady() })
  }
  if (options.queues.includes('ingest')) {
    if (!options.ingest) throw new Error('ingest worker options missing')
    // etl files need no node; sync's block ranges do.
    const etl = startEtlIngestWorker({ redisUrl: options.ingest.redisUrl, prefix: options.ingest.prefix, ...(options.ingest.lockDuration === undefined ? {} : { lockDuration: options.ingest.lockDuration }) })
    const rpc = options.ingest.rpcUrl === '' ? null : startIngestWorker(options.ingest)
    started.push({
      name: 'ingest',
      close: async () => {
        await Promise.all([etl.close(), rpc?.close()])
      },
      ready: () => Promise.all([etl.worker.waitUntilReady(), rpc?.worker.waitUntilReady()]),
    })
  }
  if (options.queues.includes('check')) {
    if (!options.check) throw new Error('check worker options missing')
    const w = startCheckWorker(options.check)
    started.push({ name: 'check', close: () => w.close(), ready: () => w.worker.waitUntilReady() })
  }
  let scheduleNote = ''
  if (options.queues.includes('rescan')) {
    if (!options.rescan) throw new Error('rescan worker options missing')
    const w = startRescanWorker(options.rescan)
    started.push({ name: 'rescan', close: w.close, ready: async () => {
      await w.worker.waitUntilReady()
      scheduleNote = await w.installSchedule()
    } })
  }
  if (options.queues.includes('deliver')) {
    if (!options.deliver) throw new Error('deliver worker options missing')
    const w = startDeliverWorker(options.deliver)
    started.push({ name: 'deliver', close: w.close, ready: () => w.worker.waitUntilReady() })
  }
  const names = started.map((s) => s.name).join('+')
  // Handlers first: a SIGTERM that arrives while BullMQ is still connecting must close cleanly too.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      console.error(`${names} worker: ${signal}, finishing running jobs`)
      Promise.all(started.map((s) => s.close()))
        .then(() => options.onClose?.())
        .then(resolve, resolve)
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
  await Promise.race([Promise.all(started.map((s) => s.ready())), stopped])
  for (const s of started) {
    const detail = s.name === 'walk' ? `concurrency ${options.walk.concurrency ?? 2}` : s.name === 'check' ? `concurrency ${options.check?.concurrency ?? 4}` : s.name === 'rescan' ? scheduleNote : s.name === 'deliver' ? `concurrency ${options.deliver?.concurrency ?? 32}` : options.ingest?.rpcUrl ? `etl files, and block ranges with concurrency ${options.ingest.concurrency ?? 2} from node ${safeOrigin(options.ingest.rpcUrl)}` : 'etl files only: no node configured for sync\'s block ranges'
    console.error(`${s.name} worker ready (prefix ${options.walk.prefix}, ${detail})`)
  }
  await stopped
}
