/**
 * Where a walk reads each expanded address's transfers from:
 *   store      what `exposure import` / `exposure sync` wrote (default);
 *   rpc        the node's per-address lookups (trace_filter, trace_transaction, eth_getLogs by
 *              topic), fetched lazily before each expansion;
 *   etherscan  the Etherscan-compatible account API (txlist, txlistinternal, tokentx), likewise.
 *
 * The coordinator (`exposure trace --source …`) fixes the block range once, at the start, and
 * writes the choice into the walk meta (fields `source`, `sourceThrough`, `sourceAssets`), so
 * every worker (in-process or a separate `exposure worker`) fetches the same range. Only the
 * choice rides along: URLs and the API key come from each worker's own configuration.
 */
import type { Options } from '../config.ts'
import { BaseError, InputError } from '../errors.ts'
import type { GraphStore } from '../store/graph-store.ts'
import type { Address } from '../types.ts'
import type { WalkSourceChoice } from '../walk/run-walk.ts'
import { createEtherscanClient, type EtherscanClient } from './etherscan/client.ts'
import { createEtherscanSource } from './etherscan/source.ts'
import { createLazyHistory, type AddressHistorySource, type LazyHistory } from './lazy-history.ts'
import { createRpcAddressSource } from './rpc/address-history.ts'
import { createOtsAddressSource } from './rpc/ots-history.ts'
import { chooseAddressLookup, detectCapabilities } from './rpc/capabilities.ts'
import { createRpcClient, type RetryEvent } from './rpc/client.ts'
import { createChainGuard, nodeChain, recordChain } from './rpc/chain.ts'
import { describeRanges, finalThrough, readCoverage, syncKeys, type BlockRange } from './rpc/ingest.ts'

export const WALK_SOURCES = ['store', 'rpc', 'etherscan'] as const
export type WalkSourceName = (typeof WALK_SOURCES)[number]

/** What a process knows about the live sources (from its own flags/environment). */
export interface WalkSourceConfig {
  redisUrl: string
  rpcUrl: string
  etherscanUrl: string
  etherscanApiKey: string
  etherscanRate: number
  chainId: number
  listedTokens: readonly Address[]
  /** Head − confirmations is final when the node has no `finalized` tag, or always when explicit. */
  confirmations: number
  confirmationsExplicit: boolean
  /** Per call to the node or the API, retries included (ms). */
  rpcDeadlineMs: number
  /** Told before each retry of a slow or failing call (the CLI prints progress while it waits). */
  onRetry?: (event: RetryEvent) => void
}

/** The live-source part of the resolved options (each process uses its own keys and URLs). */
export function walkSourceConfig(options: Options): WalkSourceConfig {
  return {
    redisUrl: options.redisUrl,
    rpcUrl: options.rpcUrl,
    etherscanUrl: options.etherscanUrl,
    etherscanApiKey: options.etherscanApiKey,
    etherscanRate: options.etherscanRate,
    chainId: options.chainId,
    listedTokens: options.listedTokens,
    confirmations: options.confirmations,
    confirmationsExplicit: options.confirmationsExplicit,
    rpcDeadlineMs: options.rpcDeadlineMs,
  }
}

/** Which blocks a walk's answers cover. */
export interface WalkCoverage {
  source: WalkSourceName
  /** Last block the answers cover; null: an etl import only (no finality line known). */
  throughBlock: number | null
  /**
   * The final block ranges the answers rest on: a store walk, the synced ranges (throughBlock is
   * the end of the first); a lazy walk, blocks 0 to throughBlock; empty for etl imports only.
   */
  ranges: BlockRange[]
  /** One line for people. */
  detail: string
}

export function parseWalkSource(value: string): WalkSourceName {
  if ((WALK_SOURCES as readonly string[]).includes(value)) return value as WalkSourceName
  throw new InputError('INVALID_ARGUMENT', `--source must be one of ${WALK_SOURCES.join(', ')}: ${JSON.stringify(value)}`, { field: 'source', value })
}

/** Names the missing setting of a source (exit 2), before anything is written. */
export function requireSourceConfig(source: WalkSourceName, config: WalkSourceConfig): void {
  if (source === 'rpc' && config.rpcUrl === '') throw new InputError('INVALID_CONFIG', '--source rpc needs a node: pass --rpc-url or set RPC_URL', { field: 'rpcUrl' })
  if (source === 'etherscan') {
    if (config.etherscanUrl === '') throw new InputError('INVALID_CONFIG', '--source etherscan needs the API base URL: set ETHERSCAN_URL', { field: 'etherscanUrl' })
    if (config.etherscanApiKey === '') throw new InputError('INVALID_CONFIG', '--source etherscan needs an API key: set ETHERSCAN_API_KEY', { field: 'etherscanApiKey' })
  }
}

/**
 * Decides the block range of a walk (rpc: the node's `finalized` block or head − confirmations;
 * etherscan: the API's head − confirmations; store: the RPC sync's coverage, or none for etl
 * imports) and answers it with the choice runWalk records in the walk's meta (what every worker
 * reads before it expands) and its basis.
 */
export async function prepareWalkSource(store: GraphStore, source: WalkSourceName, config: WalkSourceConfig): Promise<WalkCoverage & { choice: WalkSourceChoice }> {
  const { coverage, method } = await resolveWalkSource(store, source, config)
  return { ...coverage, choice: { name: coverage.source, throughBlock: coverage.throughBlock, assets: source === 'store' ? '' : config.listedTokens.join(','), method, coverage: rangesField(coverage.ranges) } }
}

/** The choice of a store walk (no lazy source; the sync's coverage as its range). */
export async function storeSourceChoice(store: GraphStore): Promise<WalkSourceChoice> {
  const { coverage } = await resolveWalkSource(store, 'store', { rpcUrl: '', etherscanUrl: '', etherscanApiKey: '' } as WalkSourceConfig)
  return { name: 'store', throughBlock: coverage.throughBlock, assets: '', method: '', coverage: rangesField(coverage.ranges) }
}

/**
 * The block range a source covers now and, for rpc, the per-address method the node offers,
 * without recording anything (prepareWalkSource records it for a walk; check --source reads it).
 */
export async function resolveWalkSource(store: GraphStore, source: WalkSourceName, config: WalkSourceConfig): Promise<{ coverage: WalkCoverage; method: string }> {
  requireSourceConfig(source, config)
  let coverage: WalkCoverage
  /** rpc: trace_filter where the node has it (fewest calls per address, bench/sync.ts), else ots_*. */
  let method = ''
  if (source === 'store') {
    const ranges = await readCoverage(store.redis, syncKeys(store.keys.prefix))
    const through = finalThrough(ranges)
    coverage = through === null
      ? { source, throughBlock: null, ranges, detail: 'the store as imported (etl files: no finality line known)' }
      : { source, throughBlock: through, ranges, detail: `the store: synced blocks ${describeRanges(ranges)} (every block from ${ranges[0]!.from} to ${through})` }
  } else if (source === 'rpc') {
    const client = createRpcClient({ url: config.rpcUrl, deadlineMs: config.rpcDeadlineMs, ...(config.onRetry ? { onRetry: config.onRetry } : {}) })
    const caps = await detectCapabilities(client, config.rpcUrl)
    // Another chain than the store's is refused before anything is fetched; a first lazy walk records it.
    const chain = await nodeChain(client, caps.chainId)
    await recordChain(store.redis, store.keys.prefix, chain, client.url)
    method = chooseAddressLookup(caps, client.url)
    const final = !config.confirmationsExplicit && caps.finalized !== null ? caps.finalized : caps.head - config.confirmations
    if (final < 0) throw new InputError('INVALID_ARGUMENT', `the node's head ${caps.head} has no final block yet (${config.confirmations} confirmations)`, { field: 'confirmations', value: String(config.confirmations) })
    coverage = { source, throughBlock: final, ranges: [{ from: 0, to: final }], detail: `blocks 0-${final} from the node's per-address lookups (${method === 'ots' ? 'ots_searchTransactionsBefore' : 'trace_filter'}, ${!config.confirmationsExplicit && caps.finalized !== null ? 'finalized tag' : `head ${caps.head} - ${config.confirmations} confirmations`})` }
  } else {
    const client = etherscanClient(config, store.keys.prefix)
    try {
      const head = await client.blockNumber()
      const final = head - config.confirmations
      if (final < 0) throw new InputError('INVALID_ARGUMENT', `the API's head ${head} has no final block yet (${config.confirmations} confirmations)`, { field: 'confirmations', value: String(config.confirmations) })
      coverage = { source, throughBlock: final, ranges: [{ from: 0, to: final }], detail: `blocks 0-${final} from the Etherscan-compatible API (head ${head} - ${config.confirmations} confirmations)` }
    } finally {
      await client.close()
    }
  }
  return { coverage, method }
}

/** Ranges as the walk meta and basis keep them: "0-99,300-629" ('' for none). */
function rangesField(ranges: readonly BlockRange[]): string {
  return ranges.map((r) => `${r.from}-${r.to}`).join(',')
}

/** The coverage of the published walk, or null when none is published. */
export async function readWalkCoverage(store: GraphStore): Promise<{ source: WalkSourceName; throughBlock: number | null } | null> {
  const [source, through] = await store.redis.hmget(store.keys.walkCurrent, 'source', 'sourceThrough')
  if (source === null || source === undefined || !(WALK_SOURCES as readonly string[]).includes(source)) return null
  return { source: source as WalkSourceName, throughBlock: through === null || through === undefined || through === '' ? null : Number(through) }
}

function etherscanClient(config: WalkSourceConfig, prefix: string): EtherscanClient {
  return createEtherscanClient({ baseUrl: config.etherscanUrl, apiKey: config.etherscanApiKey, chainId: config.chainId, rate: config.etherscanRate, redisUrl: config.redisUrl, prefix, deadlineMs: config.rpcDeadlineMs, ...(config.onRetry ? { onRetry: config.onRetry } : {}) })
}

/**
 * A live per-address source and its lazy history into the store (each address fetched once
 * through `throughBlock`): what a walk worker builds from the walk meta, and `check --source`.
 */
export function openLazySource(store: GraphStore, name: 'rpc' | 'etherscan', config: WalkSourceConfig, assets: readonly Address[], method: string, throughBlock: number | (() => Promise<number>)): { lazy: LazyHistory; source: AddressHistorySource; close(): Promise<void> } {
  requireSourceConfig(name, config)
  let source: AddressHistorySource
  let close = async () => undefined as void
  if (name === 'rpc') {
    const client = createRpcClient({ url: config.rpcUrl, deadlineMs: config.rpcDeadlineMs, ...(config.onRetry ? { onRetry: config.onRetry } : {}) })
    const inner = method === 'ots' ? createOtsAddressSource(client, assets) : createRpcAddressSource(client, assets)
    // Every process checks its own node: histories of another chain never reach the store.
    const chain = createChainGuard(store.redis, store.keys.prefix, client, { record: true })
    source = { name: inner.name, requests: inner.requests, fetch: async (address, fromBlock, toBlock) => {
      await chain()
      return inner.fetch(address, fromBlock, toBlock)
    } }
  } else {
    const client = etherscanClient(config, store.keys.prefix)
    source = createEtherscanSource(client, assets)
    close = client.close
  }
  const lazy = createLazyHistory(store, source, { throughBlock, listedTokens: assets })
  return { lazy, source, close }
}

export interface WalkSourceHook {
  /** The walk's beforeExpand: fetches the claimed addresses' histories when the walk meta asks for a live source. */
  beforeExpand(addresses: readonly Address[]): Promise<unknown>
  /** Per-address requests made so far by this process (node calls or API calls). */
  requests(): number
  /** Addresses fetched so far by this process. */
  fetched(): number
  close(): Promise<void>
}

/**
 * The lazy-history hook a walk worker runs before every expansion. It reads the walk meta each
 * time (one HMGET): a walk with `--source store` costs nothing more, and a worker that serves
 * walks with different sources follows each one. A worker without the setting the walk needs
 * fails the job with a message naming it.
 */
export function createWalkSourceHook(store: GraphStore, config: WalkSourceConfig): WalkSourceHook {
  /** One source per (source, asset list): a worker serving walks with other assets builds another. */
  const built = new Map<string, { lazy: LazyHistory; source: AddressHistorySource; close(): Promise<void> }>()
  let currentThrough = 0

  function build(name: 'rpc' | 'etherscan', assets: readonly Address[], method: string) {
    return openLazySource(store, name, config, assets, method, async () => currentThrough)
  }

  async function beforeExpand(addresses: readonly Address[]): Promise<unknown> {
    const [source, through, assetList, method] = await store.redis.hmget(store.keys.walkMeta, 'source', 'sourceThrough', 'sourceAssets', 'sourceMethod')
    if (source !== 'rpc' && source !== 'etherscan') return undefined
    if (through === null || through === '') throw new BaseError('WALK_FAILED', `walk meta names source ${source} without a block range`)
    const assets = (assetList ?? '').split(',').filter((a) => a.length > 0) as Address[]
    const key = `${source}|${method ?? ''}|${assets.join(',')}`
    let entry = built.get(key)
    if (!entry) {
      entry = build(source, assets, method ?? '')
      built.set(key, entry)
    }
    currentThrough = Number(through)
    return entry.lazy.ensure(addresses)
  }

  const sum = (f: (e: { lazy: LazyHistory; source: AddressHistorySource }) => number) => [...built.values()].reduce((a, e) => a + f(e), 0)
  return {
    beforeExpand,
    requests: () => sum((e) => e.source.requests()),
    fetched: () => sum((e) => e.lazy.fetched()),
    close: async () => {
      await Promise.all([...built.values()].map((e) => e.close()))
    },
  }
}
