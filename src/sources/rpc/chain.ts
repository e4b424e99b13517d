/**
 * Which chain a store's live data comes from. The first sync (or lazy rpc walk, or on-demand rpc
 * check) records the node's chain id and genesis block hash in P:chain; every later sync, ingest
 * job, lazy rpc walk and on-demand rpc check compares its node with it and refuses another chain
 * before it writes anything: transfers of two chains in one store would give answers that hold on
 * neither. The genesis hash tells apart chains that share an id (a fork of mainnet, a devnet
 * restarted with the same id).
 */
import type { Redis } from 'ioredis'
import { InputError } from '../../errors.ts'
import type { RpcClient } from './client.ts'

export interface ChainIdentity {
  chainId: number
  /** Hash of block 0, lowercase 0x-hex. */
  genesis: string
}

/** P:chain of a store. */
export function chainKey(prefix: string): string {
  return `${prefix}:chain`
}

/** The node's chain: eth_chainId (when not given) and the hash of its block 0. */
export async function nodeChain(client: RpcClient, chainId?: number): Promise<ChainIdentity> {
  const id = chainId ?? Number(BigInt(await client.call<string>('eth_chainId')))
  const genesis = await client.call<{ hash?: string } | null>('eth_getBlockByNumber', ['0x0', false])
  if (genesis === null || typeof genesis?.hash !== 'string') {
    throw new InputError('INVALID_CONFIG', `the node at ${client.url} does not answer its genesis block (block 0): the store cannot tell which chain it serves`, { field: 'rpcUrl', value: client.url })
  }
  return { chainId: id, genesis: genesis.hash.toLowerCase() }
}

export async function readStoreChain(redis: Redis, prefix: string): Promise<ChainIdentity | null> {
  const [id, genesis] = await redis.hmget(chainKey(prefix), 'chainId', 'genesis')
  if (id === null || id === undefined || genesis === null || genesis === undefined) return null
  return { chainId: Number(id), genesis }
}

/** Refuses (exit 2, nothing written) when the node's chain is not the store's. */
export function assertSameChain(prefix: string, stored: ChainIdentity | null, node: ChainIdentity, url: string): void {
  if (stored === null) return
  if (stored.chainId !== node.chainId) {
    throw new InputError('INVALID_CONFIG', `the node at ${url} serves chain ${node.chainId}, but store ${prefix} holds data of chain ${stored.chainId} (recorded at its first sync): use a node of chain ${stored.chainId}, or another --prefix`, { field: 'rpcUrl', value: url })
  }
  if (stored.genesis !== node.genesis) {
    throw new InputError('INVALID_CONFIG', `the node at ${url} serves chain ${node.chainId} with genesis block ${node.genesis}, but store ${prefix} holds chain ${stored.chainId} with genesis block ${stored.genesis}: another network with the same id; use a node of the store's chain, or another --prefix`, { field: 'rpcUrl', value: url })
  }
}

/**
 * KEYS[1] P:chain. ARGV: chainId, genesis, recordedAt, url.
 * Records the chain when none is recorded; answers the recorded one.
 */
const RECORD = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'chainId', ARGV[1], 'genesis', ARGV[2], 'recordedAt', ARGV[3], 'node', ARGV[4])
end
return redis.call('HMGET', KEYS[1], 'chainId', 'genesis')
`

/** Records the node's chain as the store's when it has none, then compares (refusing another chain). */
export async function recordChain(redis: Redis, prefix: string, node: ChainIdentity, url: string): Promise<ChainIdentity> {
  const [id, genesis] = (await redis.eval(RECORD, 1, chainKey(prefix), String(node.chainId), node.genesis, new Date().toISOString(), url)) as [string, string]
  const stored = { chainId: Number(id), genesis }
  assertSameChain(prefix, stored, node, url)
  return stored
}

/**
 * The node's chain checked against the store's, once per (store, node) in this process: what a
 * lazy source or an ingest worker runs before it fetches. `record` writes the chain when the
 * store has none (a first lazy walk); otherwise a store without a chain is left as it is.
 */
export function createChainGuard(redis: Redis, prefix: string, client: RpcClient, options: { record: boolean }): () => Promise<ChainIdentity> {
  let node: Promise<ChainIdentity> | null = null
  let checked: string | null = null
  return async () => {
    node ??= nodeChain(client).catch((error: unknown) => {
      node = null
      throw error
    })
    const identity = await node
    const stored = await readStoreChain(redis, prefix)
    const key = stored === null ? '' : `${stored.chainId}/${stored.genesis}`
    if (checked !== null && checked === key) return identity
    if (stored === null && options.record) await recordChain(redis, prefix, identity, client.url)
    else assertSameChain(prefix, stored, identity, client.url)
    checked = key
    return identity
  }
}
