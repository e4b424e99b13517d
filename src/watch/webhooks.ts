/**
 * Webhook endpoints and one signed delivery, after the Standard Webhooks specification
 * (standardwebhooks.com): headers `webhook-id` (the alert id: the same on every retry, so a
 * receiver de-duplicates), `webhook-timestamp` (seconds) and `webhook-signature` = `v1,` + base64
 * HMAC-SHA256 of `id.timestamp.body`, keyed by the bytes of the secret after `whsec_` (base64).
 *
 * Only http(s) URLs. A target that resolves to a private, loopback, link-local or otherwise
 * non-public address is refused unless the endpoint was added with allowPrivate (no server-side
 * request forgery by default); the check runs at delivery too, on the address actually connected
 * to (a name that later resolves elsewhere is caught).
 */
import { createHmac, randomBytes } from 'node:crypto'
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import type { Redis } from 'ioredis'
import { InputError } from '../errors.ts'
import type { StoreKeys } from '../store/keys.ts'
import { CHANGE_KINDS, type ChangeKind } from './alerts.ts'

export interface WebhookEndpoint {
  id: string
  url: string
  /** Which alerts it gets: those with one of these changes. */
  events: ChangeKind[]
  /** whsec_ + base64 of the key bytes. Never listed. */
  secret: string
  allowPrivate: boolean
  createdAt: string
  disabledAt: string | null
  disabledReason: string | null
}

export type PublicEndpoint = Omit<WebhookEndpoint, 'secret'> & { delivered: number; failed: number }

export function parseEvents(text: string | undefined): ChangeKind[] {
  if (text === undefined) return [...CHANGE_KINDS]
  const names = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  const bad = names.find((n) => !(CHANGE_KINDS as readonly string[]).includes(n))
  if (names.length === 0 || bad !== undefined) throw new InputError('INVALID_ARGUMENT', `--events must list ${CHANGE_KINDS.join(', ')}: ${JSON.stringify(bad ?? text)}`, { field: 'events', value: text })
  return [...new Set(names)] as ChangeKind[]
}

export function parseSecret(text: string): Buffer {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(text.trim())
  const bytes = match ? Buffer.from(match[1]!, 'base64') : Buffer.alloc(0)
  if (!match || bytes.length < 24 || bytes.length > 64) throw new InputError('INVALID_ARGUMENT', '--secret must be whsec_ followed by base64 of 24 to 64 bytes', { field: 'secret' })
  return bytes
}

export function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`
}

/** `v1,<base64 HMAC-SHA256 of id.timestamp.body>`. */
export function sign(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', parseSecret(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

/** Whether an IP address is private, loopback, link-local, unspecified, multicast or reserved. */
export function isNonPublicIp(ip: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped) return isNonPublicIp(mapped[1]!)
  if (isIP(ip) === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number]
    return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || (a === 192 && b === 0) || (a === 198 && (b === 18 || b === 19)) || a >= 224
  }
  const v6 = ip.toLowerCase()
  return v6 === '::' || v6 === '::1' || /^f[cd]/.test(v6) || /^fe[89ab]/.test(v6) || /^ff/.test(v6) || v6.startsWith('64:ff9b:') || v6.startsWith('2001:db8')
}

/** Checks an endpoint URL: http(s), a host, and (unless allowed) a public target. Throws INVALID_ARGUMENT. */
export async function checkUrl(text: string, allowPrivate: boolean): Promise<URL> {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InputError('INVALID_ARGUMENT', `--url is not a URL: ${JSON.stringify(text)}`, { field: 'url', value: text })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError('INVALID_ARGUMENT', `--url must be http:// or https://: ${JSON.stringify(text)}`, { field: 'url', value: text })
  if (url.username !== '' || url.password !== '') throw new InputError('INVALID_ARGUMENT', '--url must not carry credentials (the signature authenticates deliveries)', { field: 'url' })
  if (!allowPrivate) {
    const host = url.hostname.replace(/^\[|\]$/g, '')
    const addresses = isIP(host) ? [host] : await resolveAll(host).catch(() => {
      throw new InputError('INVALID_ARGUMENT', `--url names a host that does not resolve: ${JSON.stringify(url.hostname)}`, { field: 'url', value: text })
    })
    const blocked = addresses.find(isNonPublicIp)
    if (blocked !== undefined) throw new InputError('INVALID_ARGUMENT', `--url points at a private or loopback address (${blocked}); pass --allow-private to allow it`, { field: 'url', value: text })
  }
  return url
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) => dnsLookup(host, { all: true }, (error, addresses: LookupAddress[]) => (error ? reject(error) : resolve(addresses.map((a) => a.address)))))
}

// Connections are kept alive between deliveries (a new one is checked by the guarded lookup).
const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 128 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 128 }) }

export interface DeliveryOutcome {
  status: number | null
  /** The network error when there was no response. */
  error: string | null
  ms: number
}

/**
 * One signed POST. Connects only to public addresses unless `allowPrivate` (the address is checked
 * after resolution). Never throws: the outcome says what happened.
 */
export function deliver(endpoint: Pick<WebhookEndpoint, 'url' | 'secret' | 'allowPrivate'>, id: string, body: string, timeoutMs = 10_000): Promise<DeliveryOutcome> {
  const started = Date.now()
  const timestamp = Math.floor(Date.now() / 1000)
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'exposure-tracer-webhooks/1',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': sign(endpoint.secret, id, timestamp, body),
    'content-length': String(Buffer.byteLength(body)),
  }
  return new Promise((resolve) => {
    let url: URL
    try {
      url = new URL(endpoint.url)
    } catch {
      return resolve({ status: null, error: 'bad URL', ms: 0 })
    }
    const guardedLookup = (hostname: string, options: object, callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) return callback(error, '', 4)
        const bad = endpoint.allowPrivate ? undefined : addresses.find((a) => isNonPublicIp(a.address))
        if (bad !== undefined) return callback(Object.assign(new Error(`refused: ${hostname} resolves to the non-public address ${bad.address}`), { code: 'EPRIVATE' }), '', 4)
        if ((options as { all?: boolean }).all) return callback(null, addresses)
        callback(null, addresses[0]!.address, addresses[0]!.family)
      })
    }
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (!endpoint.allowPrivate && isIP(host) && isNonPublicIp(host)) return resolve({ status: null, error: `refused: ${host} is not a public address`, ms: 0 })
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'POST', headers, timeout: timeoutMs, lookup: guardedLookup as never, agent: url.protocol === 'https:' ? agents.https : agents.http }, (response) => {
      response.resume()
      response.once('end', () => resolve({ status: response.statusCode ?? null, error: null, ms: Date.now() - started }))
      response.once('error', (error) => resolve({ status: response.statusCode ?? null, error: error.message, ms: Date.now() - started }))
    })
    request.once('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    request.once('error', (error) => resolve({ status: null, error: error.message, ms: Date.now() - started }))
    request.end(body)
  })
}

export function createWebhooks(redis: Redis, keys: Pick<StoreKeys, 'webhooks' | 'webhookStats' | 'webhookFailed'>) {
  async function add(input: { url: string; events: ChangeKind[]; secret?: string; allowPrivate: boolean }): Promise<WebhookEndpoint> {
    const url = await checkUrl(input.url, input.allowPrivate)
    if (input.secret !== undefined) parseSecret(input.secret)
    const endpoint: WebhookEndpoint = {
      id: `ep_${randomBytes(6).toString('hex')}`,
      url: url.toString(),
      events: input.events,
      secret: input.secret?.trim() ?? newSecret(),
      allowPrivate: input.allowPrivate,
      createdAt: new Date().toISOString(),
      disabledAt: null,
      disabledReason: null,
    }
    await redis.hset(keys.webhooks, endpoint.id, JSON.stringify(endpoint))
    return endpoint
  }

  async function all(): Promise<WebhookEndpoint[]> {
    return (await redis.hvals(keys.webhooks)).map((j) => JSON.parse(j) as WebhookEndpoint).sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  async function get(id: string): Promise<WebhookEndpoint | null> {
    const json = await redis.hget(keys.webhooks, id)
    return json === null ? null : (JSON.parse(json) as WebhookEndpoint)
  }

  async function list(): Promise<PublicEndpoint[]> {
    const stats = await redis.hgetall(keys.webhookStats)
    return (await all()).map(({ secret: _secret, ...e }) => ({ ...e, delivered: Number(stats[`${e.id}:delivered`] ?? 0), failed: Number(stats[`${e.id}:failed`] ?? 0) }))
  }

  async function remove(id: string): Promise<void> {
    if ((await redis.hdel(keys.webhooks, id)) === 0) throw new InputError('INVALID_ARGUMENT', `no webhook endpoint ${JSON.stringify(id)}`, { field: 'id', value: id })
  }

  async function disable(id: string, reason: string): Promise<void> {
    const endpoint = await get(id)
    if (endpoint === null || endpoint.disabledAt !== null) return
    await redis.hset(keys.webhooks, id, JSON.stringify({ ...endpoint, disabledAt: new Date().toISOString(), disabledReason: reason }))
  }

  /** The alerts given up on, newest first. */
  async function failures(limit = 100): Promise<{ endpoint: string; alert: string; address: string; at: string; reason: string }[]> {
    return (await redis.lrange(keys.webhookFailed, 0, limit - 1)).map((j) => JSON.parse(j))
  }

  return { add, all, get, list, remove, disable, failures }
}

export type Webhooks = ReturnType<typeof createWebhooks>
