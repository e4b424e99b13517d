import { z } from 'zod'
import { readFileSync } from 'node:fs'
import { InputError } from './errors.ts'
import { clusterUrl, isTlsUrl, parseClusterNodes, redactUrl, registerRedisTls } from './store/redis-location.ts'
import { DEFAULT_DUST_FLOORS } from './walk/dust.ts'
import { DEFAULT_RISK_POLICY, parseRiskPolicy, type RiskPolicy } from './walk/risk.ts'
import { DEFAULT_LISTED_TOKENS } from './sources/assets.ts'
import { LABEL_CATEGORIES } from './seeds/label-categories.ts'
import type { Address } from './types.ts'

/**
 * Resolves flags > environment > defaults into one frozen, validated options object (after
 * ponder's buildOptions). Nothing else in the code reads `process.env`.
 */
export interface Options {
  /**
   * Redis URL of the graph store and queues. Default `redis://127.0.0.1:6379`. With a cluster
   * (`redisCluster`) it is `redis-cluster://[user:password@]host:port,host:port…` (or
   * `rediss-cluster://…` for TLS; store/redis-location.ts), which every connection
   * (store/redis.ts) opens as an ioredis Cluster. Holds the password: show it through redactUrl.
   */
  redisUrl: string
  /**
   * Seed nodes of a Redis Cluster, comma-separated, each `host:port` or a node URL
   * `redis://[user:password@]host:port` / `rediss://…` (TLS), all with the same scheme and
   * credentials; '' for a single server. Default ''.
   */
  redisCluster: string
  /**
   * PEM file of the CA that a TLS Redis' certificate (a `rediss://` URL, or `rediss://` cluster
   * nodes) must chain to, instead of the system's CAs; '' for none. Read once here and registered
   * against `redisUrl` (store/redis-location.ts), so every connection on it uses it. Default ''.
   */
  redisTlsCa: string
  /** Key prefix of the store, always inside a hash tag so one Redis Cluster slot holds it all. Default `{exposure}`. */
  prefix: string
  /** Longest path the walk follows, 0 to {@link MAX_HOPS_LIMIT}. Default 4. */
  maxHops: number
  /**
   * Label categories whose addresses stop exposure from passing through: some of
   * `LABEL_CATEGORIES` (src/seeds/label-categories.ts), or none (`EXPOSURE_STOP_CATEGORIES=none`).
   * Default exchange, dex, bridge, mixer, service.
   */
  stopCategories: readonly string[]
  /** An address with more distinct counterparties than this is a stop node. Default 1000. */
  counterpartyCap: number
  /** Token contracts whose `Transfer` logs count (lowercase). Default: USDT, USDC, DAI, WETH, WBTC, stETH. */
  listedTokens: readonly Address[]
  /** Minimum amount (base units) per asset ('ETH' or token address) below which a transfer does not count. */
  dust: Readonly<Record<string, bigint>>
  /** Worker count for in-process walks. Default 2. */
  workers: number
  /** Jobs one worker runs at once (they overlap Redis round trips). Default 2. */
  concurrency: number
  /** Frontier addresses one walk job expands. Default 512. */
  batchSize: number
  /** Risk levels by hops. */
  riskPolicy: RiskPolicy
  /** JSON-RPC endpoint of an Ethereum node (http or https). Default none: commands that need it say so. */
  rpcUrl: string
  /**
   * Blocks below the head that count as final when the node has no `finalized` tag, or always
   * when set explicitly with `--confirmations`. Default 64 (two epochs).
   */
  confirmations: number
  /** JSON-RPC requests in flight at once per process. Default 8. */
  rpcConcurrency: number
  /**
   * How long one call to a node or an Etherscan-compatible API may take, retries included, before
   * it fails naming the cause (ms; RPC_DEADLINE in seconds, `none` for no limit). Default 30 s.
   */
  rpcDeadlineMs: number
  /** Blocks per ingest job of `exposure sync`. Default 100. */
  syncRangeSize: number
  /** Etherscan-compatible API base URL (v2: https://api.etherscan.io/v2/api). Default none. */
  etherscanUrl: string
  /** Etherscan API key: sent to the API only, never logged. Default none. */
  etherscanApiKey: string
  /** Calls per second the Etherscan plan allows (shared by all workers). Default 5. */
  etherscanRate: number
  /** Chain id sent to Etherscan API v2. Default 1. */
  chainId: number
  /**
   * True when `confirmations` came from a flag or EXPOSURE_CONFIRMATIONS rather than the default:
   * then head − confirmations is the finality line even on a node with a `finalized` tag.
   */
  confirmationsExplicit: boolean
  /**
   * Write even when Redis' maxmemory-policy may evict keys (anything but `noeviction`): evicted
   * transfers, seeds or labels silently change answers, so writes are refused without it.
   * Flag `--allow-eviction`, environment `EXPOSURE_ALLOW_EVICTION` (1/true/yes or 0/false/no).
   * Default false.
   */
  allowEviction: boolean

  // --- screening service (exposure serve, check workers) ---
  /** Address the HTTP service listens on. Default 127.0.0.1 (loopback only). */
  host: string
  /** Port of the HTTP service. Default 8080. */
  port: number
  /** Live source of check jobs: store, rpc or etherscan; '' picks rpc when RPC_URL is set, else etherscan when configured, else store. */
  checkSource: string
  /** Most histories one check job fetches (a fetched-address budget); then the answer says which directions are exact. Default 200. */
  checkMaxHistories: number
  /** How long audit entries are kept (ms), from `90d`, `12h`, `30m`, `45s`. Default 90 days. */
  auditRetentionMs: number

  // --- rescans, watchlists, alerts (src/watch/) ---
  /** How long a wallet screened through the service stays watched by rescans (ms; `0` turns it off). Default 90 days. */
  watchScreenedMs: number
  /** Cron pattern of scheduled rescans (`exposure worker --queues rescan` installs it); '' none. Default none. */
  rescanCron: string
  /** Seed files (or folders of them) a rescan re-reads, comma-separated; '' none. Default none. */
  seedSources: readonly string[]
  /** Label files (or folders of them) a rescan re-reads, comma-separated; '' none. Default none. */
  labelSources: readonly string[]
  /** Folder of etl exports a rescan imports new files from (each once, by name and SHA-256); '' none. Default none. */
  etlInbox: string
  /** First retry delay of a failed webhook delivery (ms); doubles per attempt up to an hour. Default 1 s. */
  webhookBackoffMs: number
  /** How long a webhook delivery is retried before the alert is marked failed (ms). Default 24 h. */
  webhookRetryForMs: number
  /** Where investigators reach `exposure serve` (its graph view), e.g. https://exposure.example; `path` and `check` print deep links to it. Default '' (none). */
  publicUrl: string
}

/** The options read from flags / environment / defaults (the rest are derived). */
type ConfigKey = Exclude<keyof Options, 'confirmationsExplicit'>

export const DEFAULT_STOP_CATEGORIES = ['exchange', 'dex', 'bridge', 'mixer', 'service'] as const

/** The longest walk the store's hop labels allow (`--hops`, `EXPOSURE_MAX_HOPS`). */
export const MAX_HOPS_LIMIT = 16

/** Help text of `--hops` (trace): the range and where the default comes from. */
export const HOPS_HELP = `longest path to follow, 0 to ${MAX_HOPS_LIMIT} (default 4, or EXPOSURE_MAX_HOPS)`

const ENV_KEYS: Record<ConfigKey, string> = {
  redisUrl: 'REDIS_URL',
  redisCluster: 'REDIS_CLUSTER_NODES',
  redisTlsCa: 'REDIS_TLS_CA',
  prefix: 'EXPOSURE_PREFIX',
  maxHops: 'EXPOSURE_MAX_HOPS',
  stopCategories: 'EXPOSURE_STOP_CATEGORIES',
  counterpartyCap: 'EXPOSURE_COUNTERPARTY_CAP',
  listedTokens: 'EXPOSURE_ASSETS',
  dust: 'EXPOSURE_DUST',
  workers: 'EXPOSURE_WORKERS',
  concurrency: 'EXPOSURE_CONCURRENCY',
  batchSize: 'EXPOSURE_BATCH_SIZE',
  riskPolicy: 'EXPOSURE_RISK_POLICY',
  rpcUrl: 'RPC_URL',
  confirmations: 'EXPOSURE_CONFIRMATIONS',
  rpcConcurrency: 'RPC_CONCURRENCY',
  rpcDeadlineMs: 'RPC_DEADLINE',
  syncRangeSize: 'EXPOSURE_SYNC_RANGE',
  etherscanUrl: 'ETHERSCAN_URL',
  etherscanApiKey: 'ETHERSCAN_API_KEY',
  etherscanRate: 'ETHERSCAN_RATE',
  chainId: 'EXPOSURE_CHAIN_ID',
  allowEviction: 'EXPOSURE_ALLOW_EVICTION',
  // screening service
  host: 'EXPOSURE_HOST',
  port: 'EXPOSURE_PORT',
  checkSource: 'EXPOSURE_CHECK_SOURCE',
  checkMaxHistories: 'EXPOSURE_CHECK_MAX_HISTORIES',
  auditRetentionMs: 'EXPOSURE_AUDIT_RETENTION',
  // rescans
  watchScreenedMs: 'EXPOSURE_WATCH_SCREENED',
  rescanCron: 'EXPOSURE_RESCAN_CRON',
  seedSources: 'EXPOSURE_SEED_SOURCES',
  labelSources: 'EXPOSURE_LABEL_SOURCES',
  etlInbox: 'EXPOSURE_ETL_INBOX',
  webhookBackoffMs: 'EXPOSURE_WEBHOOK_BACKOFF',
  webhookRetryForMs: 'EXPOSURE_WEBHOOK_RETRY_FOR',
  publicUrl: 'EXPOSURE_PUBLIC_URL',
}

/** The environment variable of every option (for documentation and tests). */
export const CONFIG_ENV_KEYS: Readonly<Record<ConfigKey, string>> = ENV_KEYS

/** The command-line flags that set an option (where one does), for messages. */
const FLAG_NAMES: Partial<Record<ConfigKey, string>> = {
  redisUrl: '--redis-url',
  redisCluster: '--redis-cluster',
  redisTlsCa: '--redis-tls-ca',
  prefix: '--prefix',
  maxHops: '--hops',
  workers: '--workers',
  concurrency: '--concurrency',
  batchSize: '--batch-size',
  rpcUrl: '--rpc-url',
  confirmations: '--confirmations',
  syncRangeSize: '--range',
  allowEviction: '--allow-eviction',
}

const list = z.string().transform((s) => s.split(',').map((x) => x.trim().toLowerCase()).filter((x) => x.length > 0))
/** Decimal digits only: `Number()` would also take `1e1`, `0x10` or `4.0`. */
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a decimal integer')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
const positiveInt = (max: number) => int(1, max)
const KNOWN_CATEGORIES: ReadonlySet<string> = new Set(LABEL_CATEGORIES)

/** `redis[s]://[user:password@]host[:port][/db]`; the database index is a decimal integer (the connection checks its range). */
function redisUrlProblem(url: string): string | undefined {
  if (!/^rediss?:\/\//.test(url)) return 'must start with redis:// or rediss://'
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return 'is not a URL'
  }
  if (parsed.hostname === '') return 'names no host'
  if (!/^(?:\/\d*)?$/.test(parsed.pathname)) return `the database index (the path, ${JSON.stringify(parsed.pathname)}) must be a decimal integer, e.g. redis://host:6379/0`
  return undefined
}

const schema = z.object({
  redisUrl: z.string().superRefine((url, ctx) => {
    const problem = redisUrlProblem(url)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
  }),
  redisCluster: z.string().superRefine((nodes, ctx) => {
    if (nodes === '') return
    const spec = parseClusterNodes(nodes)
    if ('problem' in spec) ctx.addIssue({ code: 'custom', message: spec.problem })
  }),
  redisTlsCa: z.string(),
  prefix: z
    .string()
    .min(1)
    .regex(/^[^\s]+$/, 'must not contain spaces')
    // A store's partition tags are `{<name>:pXX}` (store/partitions.ts): a prefix shaped like one
    // would share its keys' slots and names with another store's partition.
    .refine((prefix) => !/:p[0-9a-f]{2}$/.test(prefix.replace(/[{}]/g, '')), 'must not end in :p and two lowercase hex digits (the shape of a store\'s partition tags)'),
  maxHops: int(0, MAX_HOPS_LIMIT),
  stopCategories: list.superRefine((categories, ctx) => {
    if (categories.length === 1 && categories[0] === 'none') return
    const unknown = categories.filter((c) => !KNOWN_CATEGORIES.has(c))
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `unknown categor${unknown.length === 1 ? 'y' : 'ies'} ${unknown.join(', ')}: expected some of ${LABEL_CATEGORIES.join(', ')} (comma-separated), or none` })
    }
  }),
  counterpartyCap: int(1, Number.MAX_SAFE_INTEGER),
  listedTokens: list.pipe(z.array(z.string().regex(/^0x[0-9a-f]{40}$/, 'each must be a 0x-prefixed 40-hex address'))),
  dust: z.string(),
  workers: positiveInt(64),
  concurrency: positiveInt(64),
  batchSize: positiveInt(100_000),
  riskPolicy: z.string(),
  rpcUrl: z.union([z.literal(''), z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')]),
  confirmations: int(0, 100_000),
  rpcConcurrency: positiveInt(256),
  rpcDeadlineMs: z.string().regex(/^(?:\d+|none)$/, 'must be a number of seconds, or none').transform((v) => (v === 'none' ? Number.POSITIVE_INFINITY : Number(v) * 1000)).pipe(z.number().min(1000, 'must be at least 1 second')),
  syncRangeSize: positiveInt(100_000),
  etherscanUrl: z.union([z.literal(''), z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')]),
  etherscanApiKey: z.string(),
  etherscanRate: z
    .string()
    .regex(/^\d+(?:\.\d+)?$/, 'must be a decimal number')
    .transform(Number)
    .pipe(z.number().positive('must be above 0').max(10_000, 'must be at most 10000')),
  chainId: positiveInt(2 ** 40),
  allowEviction: z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum(['1', 'true', 'yes', '0', 'false', 'no'], { error: 'must be 1, true or yes, or 0, false or no' }))
    .transform((s) => s === '1' || s === 'true' || s === 'yes'),
  // screening service
  host: z.string().min(1).regex(/^[^\s/]+$/, 'must be a host name or IP address'),
  port: z.coerce.number().int().min(0).max(65_535),
  checkSource: z.enum(['', 'store', 'rpc', 'etherscan']),
  checkMaxHistories: positiveInt(1_000_000),
  auditRetentionMs: z.string().regex(/^\d+(s|m|h|d)$/, 'must be a number and a unit: s, m, h or d (e.g. 90d)').transform(durationMs),
  watchScreenedMs: z.string().regex(/^(?:0|\d+(s|m|h|d))$/, 'must be 0 (off) or a number and a unit: s, m, h or d (e.g. 90d)').transform((v) => (v === '0' ? 0 : durationMs(v))),
  rescanCron: z.string().refine((v) => v === '' || v.trim().split(/\s+/).length >= 5, 'must be a cron pattern of 5 or 6 fields, e.g. "*/15 * * * *"'),
  seedSources: z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0)),
  labelSources: z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0)),
  etlInbox: z.string(),
  webhookBackoffMs: z.string().regex(/^\d+(ms|s|m|h)$/, 'must be a number and a unit: ms, s, m or h (e.g. 1s)').transform(durationMs).pipe(z.number().min(10, 'must be at least 10ms')),
  webhookRetryForMs: z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a number and a unit: ms, s, m, h or d (e.g. 24h)').transform(durationMs),
  publicUrl: z.union([z.literal(''), z.string().regex(/^https?:\/\/[^\s#?]+$/, 'must be an http:// or https:// URL without ? or #').transform((u) => u.replace(/\/+$/, ''))]),
})

const DEFAULTS: Record<ConfigKey, string> = {
  redisUrl: 'redis://127.0.0.1:6379',
  redisCluster: '',
  redisTlsCa: '',
  prefix: '{exposure}',
  maxHops: '4',
  stopCategories: DEFAULT_STOP_CATEGORIES.join(','),
  counterpartyCap: '1000',
  listedTokens: DEFAULT_LISTED_TOKENS.join(','),
  dust: 'default',
  workers: '2',
  concurrency: '2',
  batchSize: '512',
  riskPolicy: '',
  rpcUrl: '',
  confirmations: '64',
  rpcConcurrency: '8',
  rpcDeadlineMs: '30',
  syncRangeSize: '100',
  etherscanUrl: '',
  etherscanApiKey: '',
  etherscanRate: '5',
  chainId: '1',
  allowEviction: 'false',
  // screening service
  host: '127.0.0.1',
  port: '8080',
  checkSource: '',
  checkMaxHistories: '200',
  auditRetentionMs: '90d',
  watchScreenedMs: '90d',
  rescanCron: '',
  seedSources: '',
  labelSources: '',
  etlInbox: '',
  webhookBackoffMs: '1s',
  webhookRetryForMs: '24h',
  publicUrl: '',
}

export type OptionInput = Partial<Record<keyof Options, string | number | boolean | undefined>>

/** Builds the options once at start-up; throws INVALID_CONFIG naming every bad key. */
export function buildOptions(flags: OptionInput = {}, env: Record<string, string | undefined> = {}): Options {
  const raw: Record<string, string> = {}
  const origin: Record<string, 'flag' | 'environment' | 'default'> = {}
  for (const key of Object.keys(ENV_KEYS) as ConfigKey[]) {
    const flag = flags[key]
    raw[key] = flag !== undefined ? String(flag) : (env[ENV_KEYS[key]] ?? DEFAULTS[key])
    origin[key] = flag !== undefined ? 'flag' : env[ENV_KEYS[key]] !== undefined ? 'environment' : 'default'
  }
  // Name where a bad value came from: a flag, the environment variable, or a default.
  const where = (key: ConfigKey): string =>
    origin[key] === 'flag' ? `flag ${FLAG_NAMES[key] ?? key}` : origin[key] === 'environment' ? `environment ${ENV_KEYS[key]}` : `default of ${ENV_KEYS[key]}`
  // Values as messages quote them: never a Redis password.
  const shown = (key: ConfigKey): string =>
    key === 'redisUrl' ? redactUrl(raw[key]!) : key === 'redisCluster' ? raw[key]!.split(',').map((n) => redactUrl(n.trim())).join(',') : raw[key]!
  const problems: { key: ConfigKey; text: string }[] = []
  // An empty value is a mistake, never a value: '' would coerce to 0 hops or to no stop nodes.
  // Unset the variable (or leave out the flag) for the default.
  const given: Record<string, string> = {}
  for (const key of Object.keys(ENV_KEYS) as ConfigKey[]) {
    if (origin[key] !== 'default' && raw[key]!.trim() === '') {
      problems.push({ key, text: `${key} (${where(key)}) is empty: give a value, or unset it for the default${DEFAULTS[key] === '' ? ' (none)' : ` (${DEFAULTS[key]})`}` })
      given[key] = DEFAULTS[key]
    } else given[key] = raw[key]!
  }
  const parsed = schema.safeParse(given)
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0]) as ConfigKey
      if (problems.some((p) => p.key === key)) continue
      problems.push({ key, text: `${key} (${where(key)}: ${JSON.stringify(shown(key))}): ${issue.message}` })
    }
  }
  // One store location: a cluster's nodes or a server's URL, never both (which one would the
  // operator expect to be written?).
  if (parsed.success && parsed.data.redisCluster !== '' && origin.redisUrl !== 'default') {
    problems.push({ key: 'redisCluster', text: `redisCluster (${where('redisCluster')}) and redisUrl (${where('redisUrl')}) are both set: give the cluster's nodes or one server's URL` })
  }
  let redisUrl = ''
  let ca: Buffer | undefined
  if (parsed.success) {
    const spec = parsed.data.redisCluster === '' ? null : parseClusterNodes(parsed.data.redisCluster)
    redisUrl = spec === null || 'problem' in spec ? parsed.data.redisUrl : clusterUrl(spec)
    // The CA is read once, here (a file that goes away later changes nothing).
    const caFile = parsed.data.redisTlsCa
    if (caFile !== '') {
      try {
        ca = readFileSync(caFile)
      } catch (error) {
        problems.push({ key: 'redisTlsCa', text: `redisTlsCa (${where('redisTlsCa')}): cannot read the CA file ${JSON.stringify(caFile)}: ${(error as Error).message}` })
      }
      if (ca !== undefined && !ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
        problems.push({ key: 'redisTlsCa', text: `redisTlsCa (${where('redisTlsCa')}): the CA file ${JSON.stringify(caFile)} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` })
      }
      if (!isTlsUrl(redisUrl)) {
        problems.push({ key: 'redisTlsCa', text: `redisTlsCa (${where('redisTlsCa')}) is set but Redis is reached without TLS: give a rediss:// URL${parsed.data.redisCluster === '' ? '' : ' for the cluster\'s nodes'}, or leave out the CA` })
      }
    }
  }
  if (problems.length > 0 || !parsed.success) {
    throw new InputError('INVALID_CONFIG', `invalid configuration: ${problems.map((p) => p.text).join('; ')}`, { field: problems.map((p) => p.key).join(',') })
  }
  const value = parsed.data
  // Every connection on this URL (store/redis.ts) verifies the servers against this CA.
  registerRedisTls(redisUrl, ca === undefined ? undefined : { ca })
  const options: Options = {
    redisUrl,
    redisCluster: value.redisCluster,
    redisTlsCa: value.redisTlsCa,
    prefix: withHashTag(value.prefix),
    maxHops: value.maxHops,
    stopCategories: value.stopCategories.length === 1 && value.stopCategories[0] === 'none' ? [] : value.stopCategories,
    counterpartyCap: value.counterpartyCap,
    listedTokens: value.listedTokens as Address[],
    dust: parseDust(value.dust),
    workers: value.workers,
    concurrency: value.concurrency,
    batchSize: value.batchSize,
    riskPolicy: value.riskPolicy === '' ? DEFAULT_RISK_POLICY : parseRiskPolicy(value.riskPolicy),
    rpcUrl: value.rpcUrl,
    confirmations: value.confirmations,
    rpcConcurrency: value.rpcConcurrency,
    rpcDeadlineMs: value.rpcDeadlineMs,
    syncRangeSize: value.syncRangeSize,
    etherscanUrl: value.etherscanUrl,
    etherscanApiKey: value.etherscanApiKey,
    etherscanRate: value.etherscanRate,
    chainId: value.chainId,
    confirmationsExplicit: flags.confirmations !== undefined || env[ENV_KEYS.confirmations] !== undefined,
    allowEviction: value.allowEviction,
    host: value.host,
    port: value.port,
    checkSource: value.checkSource,
    checkMaxHistories: value.checkMaxHistories,
    auditRetentionMs: value.auditRetentionMs,
    watchScreenedMs: value.watchScreenedMs,
    rescanCron: value.rescanCron.trim(),
    seedSources: value.seedSources,
    labelSources: value.labelSources,
    etlInbox: value.etlInbox,
    webhookBackoffMs: value.webhookBackoffMs,
    webhookRetryForMs: value.webhookRetryForMs,
    publicUrl: value.publicUrl,
  }
  return Object.freeze(options)
}

/** `90d` → milliseconds (ms, s, m, h, d). */
export function durationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim())
  if (!match) return NaN
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd']
  return Number(match[1]) * unit
}

/** `foo` → `{foo}`; a prefix that already holds a hash tag is kept. */
function withHashTag(prefix: string): string {
  return /\{[^}]+\}/.test(prefix) ? prefix : `{${prefix}}`
}

/**
 * `ETH=1000,0xdac1…=5` → { ETH: 1000n, '0xdac1…': 5n }; `default` → the default floors
 * (walk/dust.ts: about 10 USD per asset); `none` → no floors. A list replaces the defaults.
 */
export function parseDust(text: string): Record<string, bigint> {
  const trimmed = text.trim().toLowerCase()
  if (trimmed === 'default') return { ...DEFAULT_DUST_FLOORS }
  if (trimmed === 'none') return {}
  const dust: Record<string, bigint> = {}
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^(ETH|0x[0-9a-fA-F]{40})=(\d+)$/.exec(part)
    if (!match) {
      throw new InputError('INVALID_CONFIG', `invalid dust entry ${JSON.stringify(part)}: expected ASSET=AMOUNT with ASSET 'ETH' or a token address and AMOUNT in base units`, { field: 'dust', value: part })
    }
    const asset = match[1] === 'ETH' ? 'ETH' : match[1]!.toLowerCase()
    const floor = BigInt(match[2]!)
    // In-records keep amounts to 2^64-1 (store/records.ts): 18.4 ETH, far above any dust.
    if (floor >= 1n << 64n) throw new InputError('INVALID_CONFIG', `dust floor ${part} is too large: floors must be below 2^64 base units (18.4 ETH at 18 decimals)`, { field: 'dust', value: part })
    dust[asset] = floor
  }
  return dust
}
