/**
 * Writes that survive a master's failover on a Redis Cluster.
 *
 * A cluster replicates asynchronously: when a master dies, its replica is promoted with the writes
 * it had received, and the last ones a client was told succeeded may be gone. For the store that
 * is a rewind to an earlier moment, on one master only. Two rules keep answers right through it:
 *
 * - a step that the rest builds on (an import's journal before its commit point, the commit point,
 *   the applied journal before the import is finished, a walk's labels before it is published) is
 *   made durable first: `WAIT 1` on every master that has a replica, after this client wrote
 *   something there, so everything written before (by any client) has reached a replica;
 * - work in progress that a rewind may have cut (a walk's labels and frontier, an import's
 *   staging) is not trusted across a failover: the cluster's epoch, which every failover raises,
 *   is read when it starts and before it is published or committed; a walk then starts again, an
 *   import is refused with nothing committed.
 *
 * On a single server both are no-ops: a server that restarts without its data is caught by the
 * store id (walks) and the import record (imports) instead.
 */
import { BaseError } from '../errors.ts'
import { isCluster, masterConnections, type Redis } from './redis.ts'

/** How long WAIT may take for a replica's acknowledgement. */
const WAIT_MS = 5_000

/**
 * The cluster's configuration epoch and its masters (e.g. "7/a1b2…,c3d4…"): changes with every
 * failover; null on a single server.
 */
export async function clusterEpoch(redis: Redis): Promise<string | null> {
  if (!isCluster(redis)) return null
  let epoch = 0
  const masters = new Set<string>()
  for (const node of await masterConnections(redis)) {
    const info = String(await node.call('CLUSTER', 'INFO'))
    epoch = Math.max(epoch, Number(/cluster_current_epoch:(\d+)/.exec(info)?.[1] ?? 0))
    masters.add(String(await node.call('CLUSTER', 'MYID')))
  }
  return `${epoch}/${[...masters].sort().join(',')}`
}

/**
 * Makes everything written to the store so far durable on a cluster: touches one key of every
 * hash tag the store uses (`tagKeys`: a key under each tag, so this client has written to every
 * master the store lives on), then WAIT 1 on each master that has replicas. Throws when a replica
 * does not confirm in time (the write is not safe from a failover; the caller's step must not go on).
 */
export async function replicate(redis: Redis, tagKeys: readonly string[]): Promise<void> {
  if (!isCluster(redis)) return
  const stamp = String(Date.now())
  await Promise.all(tagKeys.map((key) => redis.set(key, stamp, 'PX', 3_600_000)))
  const masters = await masterConnections(redis)
  await Promise.all(
    masters.map(async (node) => {
      const replication = String(await node.info('replication'))
      const replicas = Number(/connected_slaves:(\d+)/.exec(replication)?.[1] ?? 0)
      if (replicas === 0) return
      const acked = Number(await node.call('WAIT', '1', String(WAIT_MS)))
      if (acked < 1) {
        const address = `${(node as unknown as { options: { host: string; port: number } }).options.host}:${(node as unknown as { options: { port: number } }).options.port}`
        throw new BaseError('STORE_UNAVAILABLE', `no replica of Redis master ${address} confirmed the store's writes within ${WAIT_MS / 1000} s: they would not survive a failover, so this step stops here (nothing after it was written)`, { value: address })
      }
    }),
  )
}

/** True when the cluster failed over (or was reconfigured) since `before` was read. */
export async function failedOver(redis: Redis, before: string | null): Promise<boolean> {
  if (before === null) return false
  return (await clusterEpoch(redis)) !== before
}
