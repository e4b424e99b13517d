import { z } from 'zod'
import { InputError } from './errors.ts'
import { DEFAULT_RISK_POLICY, parseRiskPolicy, type RiskPolicy } from './walk/risk.ts'
import { DEFAULT_LISTED_TOKENS } from './sources/assets.ts'
import type { Address } from './types.ts'

/**
 * Resolves flags > environment > defaults into one frozen, validated options object (after
 * ponder's buildOptions). Nothing else in the code reads `process.env`.
 */
export interface Options {
  /** Redis URL of the graph store and queues. Default `redis://127.0.0.1:6379`. */
  redisUrl: string
  /** Key prefix of the store, always inside a hash tag so one Redis Cluster slot holds it all. Default `{exposure}`. */
  prefix: string
  /** Longest path the walk follows. Default 4. */
  maxHops: number
  /** Label categories whose addresses stop exposure from passing through. */
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
}

/** The options read from flags / environment / defaults (the rest are derived). */
type ConfigKey = Exclude<keyof Options, 'confirmationsExplicit'>

export const DEFAULT_STOP_CATEGORIES = ['exchange', 'dex', 'bridge', 'mixer', 'service'] as const

const ENV_KEYS: Record<ConfigKey, string> = {
  redisUrl: 'REDIS_URL',
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
  syncRangeSize: 'EXPOSURE_SYNC_RANGE',
  etherscanUrl: 'ETHERSCAN_URL',
  etherscanApiKey: 'ETHERSCAN_API_KEY',
  etherscanRate: 'ETHERSCAN_RATE',
  chainId: 'EXPOSURE_CHAIN_ID',
  // screening service
  host: 'EXPOSURE_HOST',
  port: 'EXPOSURE_PORT',
  checkSource: 'EXPOSURE_CHECK_SOURCE',
  checkMaxHistories: 'EXPOSURE_CHECK_MAX_HISTORIES',
  auditRetentionMs: 'EXPOSURE_AUDIT_RETENTION',
}

const list = z.string().transform((s) => s.split(',').map((x) => x.trim().toLowerCase()).filter((x) => x.length > 0))
const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max)

const schema = z.object({
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://'),
  prefix: z.string().min(1).regex(/^[^\s]+$/, 'must not contain spaces'),
  maxHops: z.coerce.number().int().min(0).max(16),
  stopCategories: list,
  counterpartyCap: z.coerce.number().int().min(1),
  listedTokens: list.pipe(z.array(z.string().regex(/^0x[0-9a-f]{40}$/, 'each must be a 0x-prefixed 40-hex address'))),
  dust: z.string(),
  workers: positiveInt(64),
  concurrency: positiveInt(64),
  batchSize: positiveInt(100_000),
  riskPolicy: z.string(),
  rpcUrl: z.union([z.literal(''), z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')]),
  confirmations: z.coerce.number().int().min(0).max(100_000),
  rpcConcurrency: positiveInt(256),
  syncRangeSize: positiveInt(100_000),
  etherscanUrl: z.union([z.literal(''), z.string().regex(/^https?:\/\/\S+$/, 'must be an http:// or https:// URL')]),
  etherscanApiKey: z.string(),
  etherscanRate: z.coerce.number().positive().max(10_000),
  chainId: positiveInt(2 ** 40),
  // screening service
  host: z.string().min(1).regex(/^[^\s/]+$/, 'must be a host name or IP address'),
  port: z.coerce.number().int().min(0).max(65_535),
  checkSource: z.enum(['', 'store', 'rpc', 'etherscan']),
  checkMaxHistories: positiveInt(1_000_000),
  auditRetentionMs: z.string().regex(/^\d+(s|m|h|d)$/, 'must be a number and a unit: s, m, h or d (e.g. 90d)').transform(durationMs),
})

const DEFAULTS: Record<ConfigKey, string> = {
  redisUrl: 'redis://127.0.0.1:6379',
  prefix: '{exposure}',
  maxHops: '4',
  stopCategories: DEFAULT_STOP_CATEGORIES.join(','),
  counterpartyCap: '1000',
  listedTokens: DEFAULT_LISTED_TOKENS.join(','),
  dust: '',
  workers: '2',
  concurrency: '2',
  batchSize: '512',
  riskPolicy: '',
  rpcUrl: '',
  confirmations: '64',
  rpcConcurrency: '8',
  syncRangeSize: '100',
  etherscanUrl: '',
  etherscanApiKey: '',
  etherscanRate: '5',
  chainId: '1',
  // screening service
  host: '127.0.0.1',
  port: '8080',
  checkSource: '',
  checkMaxHistories: '200',
  auditRetentionMs: '90d',
}

export type OptionInput = Partial<Record<keyof Options, string | number | undefined>>

/** Builds the options once at start-up; throws INVALID_CONFIG naming every bad key. */
export function buildOptions(flags: OptionInput = {}, env: Record<string, string | undefined> = {}): Options {
  const raw: Record<string, string> = {}
  const origin: Record<string, string> = {}
  for (const key of Object.keys(ENV_KEYS) as ConfigKey[]) {
    const flag = flags[key]
    raw[key] = flag !== undefined ? String(flag) : (env[ENV_KEYS[key]] ?? DEFAULTS[key])
    origin[key] = flag !== undefined ? 'flag' : env[ENV_KEYS[key]] !== undefined ? ENV_KEYS[key] : 'default'
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as ConfigKey
      // Name where the bad value came from: a flag, the environment variable, or a default.
      const from = origin[key] === 'flag' ? `flag, ${ENV_KEYS[key]} otherwise` : origin[key] === 'default' ? 'default' : ENV_KEYS[key]
      return `${key} (${from}: ${JSON.stringify(raw[key])}): ${issue.message}`
    })
    throw new InputError('INVALID_CONFIG', `invalid configuration: ${problems.join('; ')}`, { field: problems.map((p) => p.split(' ')[0]).join(',') })
  }
  const value = parsed.data
  const options: Options = {
    redisUrl: value.redisUrl,
    prefix: withHashTag(value.prefix),
    maxHops: value.maxHops,
    stopCategories: value.stopCategories,
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
    syncRangeSize: value.syncRangeSize,
    etherscanUrl: value.etherscanUrl,
    etherscanApiKey: value.etherscanApiKey,
    etherscanRate: value.etherscanRate,
    chainId: value.chainId,
    confirmationsExplicit: flags.confirmations !== undefined || env[ENV_KEYS.confirmations] !== undefined,
    host: value.host,
    port: value.port,
    checkSource: value.checkSource,
    checkMaxHistories: value.checkMaxHistories,
    auditRetentionMs: value.auditRetentionMs,
  }
  return Object.freeze(options)
}

/** `90d` → milliseconds (s, m, h, d). */
function durationMs(text: string): number {
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[text.slice(-1) as 's' | 'm' | 'h' | 'd']
  return Number(text.slice(0, -1)) * unit
}

/** `foo` → `{foo}`; a prefix that already holds a hash tag is kept. */
function withHashTag(prefix: string): string {
  return /\{[^}]+\}/.test(prefix) ? prefix : `{${prefix}}`
}

/** `ETH=1000,0xdac1…=5` → { ETH: 1000n, '0xdac1…': 5n }. */
export function parseDust(text: string): Record<string, bigint> {
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
