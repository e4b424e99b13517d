/**
 * The zod schemas of the HTTP API: they validate requests, and the OpenAPI document
 * (/openapi.json) is generated from them (fastify-type-provider-zod → @fastify/swagger).
 * Response schemas describe what the routes send; the tests validate every route's responses
 * against the generated document.
 */
import { z } from 'zod'
import { addressProblem } from '../seeds/address.ts'

/** 0x + 40 hex; lowercase, uppercase or a valid EIP-55 checksum. */
export const AddressInput = z
  .string()
  .superRefine((value, ctx) => {
    const problem = addressProblem(value)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
  })
  .meta({ description: "an Ethereum address: 0x + 40 hex digits; mixed case must pass its EIP-55 checksum", example: '0x098B716B8Aaf21512996dC57EB0615e2383E2f96' })

export const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/).meta({ description: 'EIP-55 address' })

export const Problem = z
  .object({
    type: z.string().meta({ description: 'a URI naming the kind of problem' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    code: z.string().meta({ description: 'stable machine-readable code' }),
    requestId: z.string().optional(),
    invalidParams: z.array(z.object({ name: z.string(), reason: z.string(), value: z.unknown().optional() })).optional(),
    checks: z.record(z.string(), z.unknown()).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' })

const PathStep = z
  .object({
    from: Address,
    to: Address,
    txHash: z.string(),
    blockNumber: z.number().int(),
    transactionIndex: z.number().int(),
    asset: z.string().meta({ description: "'ETH' or the token contract (EIP-55)" }),
    amount: z.string().regex(/^\d+$/).meta({ description: 'base units, decimal' }),
    timestamp: z.number().int().optional(),
  })
  .meta({ id: 'PathStep' })

const SeedInfo = z
  .object({ label: z.string(), source: z.string(), incident: z.string().nullable(), listed: z.string().nullable(), confidence: z.number().nullable() })
  .meta({ id: 'SeedInfo' })

const Exposure = z
  .object({ hops: z.number().int().min(0), seed: Address, path: z.array(PathStep), seedInfo: SeedInfo.nullable() })
  .meta({ id: 'Exposure', description: 'the nearest seed in one direction, with a witness path (downstream: seed → address; upstream: address → seed)' })

const AssetExposure = z
  .object({
    asset: z.string().meta({ description: "'ETH' or the token contract (EIP-55)" }),
    total: z.string().regex(/^\d+$/).meta({ description: 'everything the address received (downstream) or sent (upstream) in this asset, base units, dust floors applied' }),
    exposed: z.string().regex(/^\d+$/).meta({ description: 'the part of total on time-respecting paths from (to) seeds, base units' }),
    share: z.number().min(0).max(1).meta({ description: 'exposed / total' }),
    byHops: z.record(z.string(), z.string()).meta({ description: 'exposed value by level: "1" straight from (to) a seed, "2" one address between, …' }),
  })
  .meta({ id: 'AssetExposure' })

const Directions = z.object({ downstream: z.boolean(), upstream: z.boolean() })

/** Exactly the `exposure check --json` object. */
export const Answer = z
  .object({
    address: Address,
    risk: z.enum(['severe', 'high', 'medium', 'low', 'none']),
    downstream: Exposure.nullable(),
    upstream: Exposure.nullable(),
    finalBlock: z.number().int().nullable(),
    reason: z.string().meta({ description: 'why this risk: the deciding direction, hops, seed and the exposed share (walk/risk.ts)' }),
    value: z
      .object({ downstream: z.array(AssetExposure).nullable(), upstream: z.array(AssetExposure).nullable() })
      .nullable()
      .meta({ description: 'exposed value per asset and direction; null for a direction answered by an on-demand search' }),
    walk: z.object({ runId: z.string(), finishedAt: z.string(), directions: z.array(z.enum(['downstream', 'upstream'])) }).nullable(),
    stale: z.boolean(),
    staleReasons: z.array(z.object({ kind: z.enum(['transfers', 'seeds', 'labels', 'parameters', 'store']), detail: z.string() })),
    answeredBy: z.object({ downstream: z.enum(['walk', 'search']), upstream: z.enum(['walk', 'search']) }).optional(),
  })
  .meta({ id: 'Answer', description: 'the check --json object' })

export const CompleteResult = Answer.extend({
  exact: Directions.meta({ description: 'false where an on-demand search ran out of its fetch budget: hops are then an upper bound and null means none found within the budget' }),
  status: z.literal('complete'),
  checkId: z.string().optional(),
}).meta({ id: 'CompleteResult' })

export const PendingResult = z
  .object({ address: Address, status: z.literal('pending'), checkId: z.string().meta({ description: 'GET /v1/checks/{checkId} answers once the check job is done' }) })
  .meta({ id: 'PendingResult' })

export const ScreenRequest = z.object({
  addresses: z.array(AddressInput).min(1).max(1000).meta({ description: '1 to 1,000 addresses; the same address twice is answered once each, in order' }),
  waitMs: z.number().int().min(0).max(30_000).default(2_000).meta({ description: 'how long to wait for check jobs before answering pending (ms)' }),
})

export const ScreenResponse = z.object({ results: z.array(z.union([CompleteResult, PendingResult])) }).meta({ id: 'ScreenResponse' })

export const CheckParams = z.object({ checkId: z.string().min(1).max(100) })

const Position = z.object({ blockNumber: z.number().int(), transactionIndex: z.number().int(), timestamp: z.number().int().nullable() })
const Basis = z.object({ runId: z.string().nullable(), seedVersion: z.number().int(), finalBlock: z.number().int().nullable(), source: z.string() })

export const AddressParams = z.object({ address: AddressInput })

export const AddressView = z
  .object({
    address: Address,
    answer: Answer.nullable().meta({ description: 'the published walk\'s answer; null when no walk is published' }),
    seed: SeedInfo.extend({ provenance: z.record(z.string(), z.string()) }).nullable(),
    label: z.object({ label: z.string(), category: z.string(), source: z.string().nullable() }).nullable(),
    transfersIn: z.number().int(),
    transfersOut: z.number().int(),
    counterparties: z.number().int(),
    firstSeen: Position.nullable(),
    lastSeen: Position.nullable(),
    lastScreening: z.object({ at: z.string(), key: z.string().nullable(), risk: z.string(), basis: Basis }).nullable(),
  })
  .meta({ id: 'AddressView' })

export const NeighbourQuery = z.object({
  direction: z.enum(['out', 'in', 'both']).default('both'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(200).optional(),
})

export const NeighbourPage = z
  .object({
    address: Address,
    direction: z.enum(['out', 'in', 'both']),
    total: z.number().int(),
    neighbours: z.array(
      z.object({
        address: Address,
        direction: z.enum(['out', 'in']),
        transfers: z.number().int(),
        totals: z.array(z.object({ asset: z.string(), amount: z.string().regex(/^\d+$/) })),
        first: z.object({ blockNumber: z.number().int(), transactionIndex: z.number().int() }),
        last: z.object({ blockNumber: z.number().int(), transactionIndex: z.number().int() }),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'NeighbourPage' })

export const AuditQuery = z.object({ address: AddressInput, limit: z.coerce.number().int().min(1).max(1000).default(100) })

export const AuditResponse = z
  .object({
    address: Address,
    entries: z.array(
      z.object({
        id: z.string(),
        time: z.string(),
        requestId: z.string(),
        key: z.string(),
        address: Address,
        status: z.enum(['complete', 'pending']),
        risk: z.string().nullable(),
        downstreamHops: z.number().int().nullable(),
        upstreamHops: z.number().int().nullable(),
        runId: z.string().nullable(),
        seedVersion: z.number().int().nullable(),
        finalBlock: z.number().int().nullable(),
        source: z.string().nullable(),
        checkId: z.string().nullable(),
        answeredFrom: z.string(),
      }),
    ),
  })
  .meta({ id: 'AuditResponse' })

/** What `exposure status --json` shows (its shape is the CLI's; described loosely here). */
export const StatusResponse = z
  .object({
    store: z.object({ prefix: z.string(), transfers: z.number(), addresses: z.number(), seeds: z.number(), labels: z.number() }).passthrough(),
    walk: z.object({ runId: z.string(), finishedAt: z.string(), directions: z.array(z.string()), stale: z.boolean() }).passthrough().nullable(),
    latestWalk: z.object({ runId: z.string(), status: z.string() }).passthrough().nullable(),
    imports: z.array(z.object({}).passthrough()),
    jobs: z.record(z.string(), z.number()),
    sync: z.object({}).passthrough().nullable(),
    redis: z.object({ usedMemory: z.number() }).passthrough(),
    rescan: z.object({ last: z.object({}).passthrough().nullable(), next: z.string().nullable(), cron: z.string().nullable(), running: z.string().nullable() }).optional(),
    service: z.object({ checkSource: z.string(), queues: z.record(z.string(), z.record(z.string(), z.number())), checkWorkers: z.number().int() }),
  })
  .meta({ id: 'Status' })

const Summary = { risk: z.string(), downstream: z.object({ hops: z.number().int(), seed: Address }).nullable(), upstream: z.object({ hops: z.number().int(), seed: Address }).nullable() }

export const WatchEntry = z
  .object({ address: Address, owner: z.string(), ref: z.string(), addedAt: z.string(), expiresAt: z.string().nullable() })
  .meta({ id: 'WatchEntry' })

export const WatchRequest = z.object({
  addresses: z.array(AddressInput).min(1).max(1000).meta({ description: '1 to 1,000 wallets to watch (again: renews the entry)' }),
  ref: z.string().max(200).regex(/^[^\u0000-\u001f\u007f]*$/, 'printable characters only').default('').meta({ description: 'your own reference (a customer id, a case number)' }),
  expires: z.string().regex(/^(?:\d+(s|m|h|d)|never)$/, 'a number and a unit (s, m, h, d), e.g. 90d, or never').default('never'),
})

export const WatchList = z
  .object({ entries: z.array(WatchEntry.extend({ last: z.object(Summary).nullable().meta({ description: 'the answer the last rescan recorded' }) })) })
  .meta({ id: 'WatchList' })

export const WatchAdded = z.object({ added: z.array(WatchEntry), baselines: z.number().int() }).meta({ id: 'WatchAdded' })

const StoredAlert = z
  .object({
    cursor: z.string(),
    alert: z
      .object({
        id: z.string(),
        address: Address,
        at: z.string(),
        changes: z.array(z.enum(['risk', 'hops', 'seed'])),
        before: z.object(Summary).passthrough(),
        after: z.object(Summary).passthrough(),
        cause: z.object({}).passthrough(),
        watchers: z.object({ owners: z.array(z.string()), refs: z.array(z.string()), screenedBy: z.string().nullable() }),
      })
      .passthrough(),
  })
  .meta({ id: 'StoredAlert' })

export const AlertsQuery = z.object({
  after: z.string().regex(/^(?:0|\d{1,16}-\d{1,10})$/, 'a cursor: 0 or a stream id like 1764633600000-0').default('0'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})

export const AlertPage = z
  .object({ alerts: z.array(StoredAlert), nextCursor: z.string().meta({ description: 'pass as after for the next page (the same when nothing new)' }) })
  .meta({ id: 'AlertPage' })

/** A problem response in the OpenAPI document: application/problem+json, as the service sends it. */
export function problem(description: string) {
  return { description, content: { 'application/problem+json': { schema: Problem } } }
}

/** Error responses every authenticated route can give. */
export const authProblems = {
  401: problem('no API key, or not a valid one (WWW-Authenticate says how to send it)'),
  403: problem('the key lacks the scope the route needs'),
  429: problem("over the key's rate (Retry-After says when to try again)"),
  503: problem('Redis is unavailable, or no walk is published'),
} as const
