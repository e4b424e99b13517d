/**
 * `npm run bench:hub`: what a small commit costs when it touches a hub. A live sync commits a
 * block at a time (~150 transfers here); when one of them pays an address of millions of
 * transfers, the commit rewrites that address's node string whole (store/commit.ts). For hubs of
 * 0, 100,000, 1,000,000 and 4,000,000 incoming transfers (distinct senders), in a fresh private
 * redis-server, each row gives the median of seven 150-transfer commits that pay the hub once,
 * beside the in-process part of merging one record into that node, done as the commit does it
 * (mergeIntoSorted and countAfterAdding) and as it did before (sortUnique over the whole list and
 * countCounterparties over the whole node), on the same node in the same run. The rest of a
 * commit's time is Redis moving the node: read, journal write, apply. Prints a table and writes
 * bench/results/hub-commit.json. BENCH_HUBS=comma-separated sizes overrides the sizes.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import Table from 'cli-table3'
import { createGraphStore, type GraphStore } from '../src/store/graph-store.ts'
import { startPrivateRedis } from '../src/store/private-redis.ts'
import { connectRedis } from '../src/store/redis.ts'
import { IN_SIZE, countAfterAdding, countCounterparties, mergeIntoSorted, sortUnique, splitNode, writeInRecord } from '../src/store/records.ts'
import { ETH, type Address, type Transfer } from '../src/types.ts'

const HUBS = (process.env.BENCH_HUBS ?? '0,100000,1000000,4000000').split(',').map(Number)
const COMMITS = 7
const BLOCK = 150

/** Distinct addresses spread over the partitions (the first byte varies). */
const addressOf = (i: number) => `0x${((i * 7919) % 256).toString(16).padStart(2, '0')}${i.toString(16).padStart(38, '0')}` as Address
const hub = `0x${'cc'.repeat(20)}` as Address
let counter = 0
const transfer = (from: Address, to: Address, block: number): Transfer => ({ from, to, amount: 10n ** 15n, asset: ETH, blockNumber: block, transactionIndex: counter % 60_000, txHash: `0x${(++counter).toString(16).padStart(64, '0')}`, kind: 'tx', subIndex: 0 })

async function commit(store: GraphStore, transfers: readonly Transfer[]): Promise<number> {
  const id = `rpc${Math.random().toString(36).slice(2, 10)}`
  const assets = await store.internAssets([ETH])
  await store.beginImport(id, 'rpc', 'bench:hub')
  await store.stage(id, transfers, assets)
  const started = performance.now()
  await store.commit(id)
  return performance.now() - started
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const time = (f: () => unknown) => {
  const started = performance.now()
  f()
  return performance.now() - started
}

const loadBefore = loadavg()
const server = await startPrivateRedis()
const redis = await connectRedis(server.url)
const rows: { hub: number; nodeBytes: number; commitMs: number[]; mergeMs: number; wholeMergeMs: number }[] = []
try {
  for (const size of HUBS) {
    const store = createGraphStore(redis, `{hub${size}}`)
    for (let done = 0; done < size; done += 500_000) {
      const batch: Transfer[] = []
      for (let i = 0; i < Math.min(500_000, size - done); i++) batch.push(transfer(addressOf(1 + done + i), hub, 1 + Math.floor((done + i) / 1000)))
      await commit(store, batch)
    }
    const commitMs: number[] = []
    for (let c = 0; c < COMMITS; c++) {
      const block = 10_000_000 + c
      const batch: Transfer[] = []
      for (let i = 0; i < BLOCK - 1; i++) batch.push(transfer(addressOf(50_000_000 + c * 1_000 + i), addressOf(60_000_000 + c * 1_000 + i), block))
      batch.push(transfer(addressOf(70_000_000 + c), size > 0 ? hub : addressOf(80_000_000 + c), block))
      commitMs.push(await commit(store, batch))
    }
    // The in-process part of adding one record to the hub's node, both ways, on the node as stored.
    const node = (await redis.getBuffer(store.keys.node(hub))) ?? Buffer.alloc(0)
    const { counterparties, out, in: inn } = splitNode(node)
    // A later block's record from a new sender.
    const added = Buffer.alloc(IN_SIZE)
    writeInRecord(added, 0, { counterparty: addressOf(90_000_000), blockNumber: 20_000_000, transactionIndex: 0, assetId: 0, amount: 1n, txHash: `0x${'0'.repeat(64)}`, kind: 'tx', subIndex: 0 })
    const mergeMs = median(
      Array.from({ length: 3 }, () =>
        time(() => {
          mergeIntoSorted(inn, added, IN_SIZE)
          countAfterAdding(hub, counterparties, out, inn, Buffer.alloc(0), added)
        }),
      ),
    )
    const wholeMergeMs = median(Array.from({ length: 3 }, () => time(() => countCounterparties(hub, out, sortUnique(Buffer.concat([inn, added]), IN_SIZE)))))
    rows.push({ hub: size, nodeBytes: node.length, commitMs, mergeMs, wholeMergeMs })
    process.stderr.write(`hub of ${size}: commit median ${median(commitMs).toFixed(0)} ms\n`)
  }
} finally {
  redis.disconnect()
  await server.stop()
}
const loadAfter = loadavg()

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 })
const table = new Table({ head: ['hub: incoming transfers', 'its node', `${BLOCK}-transfer commit paying it (median of ${COMMITS})`, 'merge one record in process: as the commit does', 'as before (whole list sorted, whole node counted)'], style: { head: [], border: [] } })
for (const r of rows) {
  table.push([fmt(r.hub), `${(r.nodeBytes / 2 ** 20).toFixed(1)} MiB`, `${fmt(median(r.commitMs))} ms (${fmt(Math.min(...r.commitMs))}–${fmt(Math.max(...r.commitMs))})`, `${r.mergeMs.toFixed(1)} ms`, `${r.wholeMergeMs.toFixed(1)} ms`])
}
table.push(['machine', `${cpus().length} cores; load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`, '', '', ''])
console.log(table.toString())
await mkdir(new URL('./results/', import.meta.url), { recursive: true })
await writeFile(new URL('./results/hub-commit.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), block: BLOCK, commits: COMMITS, cores: cpus().length, loadBefore, loadAfter, rows }, null, 2))
