/**
 * API keys of the screening service. A key is `exk_<id>_<secret>`: the id (48 random bits, hex)
 * finds the record, the secret (256 random bits, base64url) proves it. Only the SHA-256 of the
 * secret is stored (a fast hash is enough for 256 random bits: there is nothing to guess), and the
 * presented secret's hash is compared in constant time. The key itself is printed once, at
 * creation, and never stored, logged or shown again.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Redis } from 'ioredis'
import { InputError } from '../errors.ts'
import type { StoreKeys } from '../store/keys.ts'

export const SCOPES = ['screen', 'investigate', 'admin'] as const
export type Scope = (typeof SCOPES)[number]

/** Requests per window. */
export interface Rate {
  limit: number
  windowMs: number
}

export interface ApiKeyInfo {
  id: string
  name: string
  scopes: Scope[]
  rate: Rate
  createdAt: string
  revokedAt: string | null
}

interface ApiKeyRecord extends ApiKeyInfo {
  /** SHA-256 of the secret, hex. */
  hash: string
}

export const DEFAULT_RATE = '100/s'
const KEY_PATTERN = /^exk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/
const WINDOWS: Record<string, number> = { s: 1_000, sec: 1_000, second: 1_000, m: 60_000, min: 60_000, minute: 60_000, h: 3_600_000, hour: 3_600_000 }

/** `100/s`, `6000/min`, `1000/h` → requests per window. */
export function parseRate(text: string): Rate {
  const match = /^(\d+)\/(s|sec|second|m|min|minute|h|hour)$/.exec(text.trim())
  const limit = match ? Number(match[1]) : NaN
  if (!match || !Number.isSafeInteger(limit) || limit < 1) throw new InputError('INVALID_ARGUMENT', `--rate must be requests per second, minute or hour, like 100/s, 6000/min or 1000/h: ${JSON.stringify(text)}`, { field: 'rate', value: text })
  return { limit, windowMs: WINDOWS[match[2]!]! }
}

export function formatRate(rate: Rate): string {
  const unit = rate.windowMs === 1_000 ? 's' : rate.windowMs === 60_000 ? 'min' : 'h'
  return `${rate.limit}/${unit}`
}

export function parseScopes(text: string): Scope[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  const bad = names.find((s) => !(SCOPES as readonly string[]).includes(s))
  if (names.length === 0 || bad !== undefined) throw new InputError('INVALID_ARGUMENT', `--scopes must list ${SCOPES.join(', ')}: ${JSON.stringify(bad ?? text)}`, { field: 'scopes', value: text })
  return [...new Set(names)] as Scope[]
}

const sha256 = (text: string) => createHash('sha256').update(text).digest()

export interface ApiKeysOptions {
  /** How long a verified key record is reused in this process (ms); a revocation takes effect within it. Default 1000. */
  cacheMs?: number
}

export function createApiKeys(redis: Redis, keys: Pick<StoreKeys, 'apiKeys'>, options: ApiKeysOptions = {}) {
  const cacheMs = options.cacheMs ?? 1_000
  const cache = new Map<string, { record: ApiKeyRecord | null; at: number }>()

  async function create(input: { name: string; scopes: readonly Scope[]; rate?: Rate }): Promise<{ key: string; info: ApiKeyInfo }> {
    const name = input.name.trim()
    if (!/^[\w.@-]{1,64}$/.test(name)) throw new InputError('INVALID_ARGUMENT', `--name must be 1 to 64 letters, digits, '.', '@', '_' or '-': ${JSON.stringify(input.name)}`, { field: 'name', value: input.name })
    const existing = await list()
    if (existing.some((k) => k.name === name && k.revokedAt === null)) throw new InputError('INVALID_ARGUMENT', `a key named ${JSON.stringify(name)} exists: revoke it first or choose another name`, { field: 'name', value: name })
    const id = randomBytes(6).toString('hex')
    const secret = randomBytes(32).toString('base64url')
    const info: ApiKeyInfo = { id, name, scopes: [...input.scopes], rate: input.rate ?? parseRate(DEFAULT_RATE), createdAt: new Date().toISOString(), revokedAt: null }
    const record: ApiKeyRecord = { ...info, hash: sha256(secret).toString('hex') }
    if ((await redis.hsetnx(keys.apiKeys, id, JSON.stringify(record))) !== 1) throw new InputError('INVALID_ARGUMENT', 'key id collision: run the command again')
    return { key: `exk_${id}_${secret}`, info }
  }

  async function list(): Promise<ApiKeyInfo[]> {
    const all = await redis.hvals(keys.apiKeys)
    return all.map((json) => withoutHash(JSON.parse(json) as ApiKeyRecord)).sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  /** Revokes by id or by name (of a key not yet revoked). Returns the revoked key. */
  async function revoke(idOrName: string): Promise<ApiKeyInfo> {
    const all = (await redis.hvals(keys.apiKeys)).map((json) => JSON.parse(json) as ApiKeyRecord)
    const found = all.find((k) => k.id === idOrName) ?? all.find((k) => k.name === idOrName && k.revokedAt === null)
    if (!found) throw new InputError('INVALID_ARGUMENT', `no key with id or name ${JSON.stringify(idOrName)}`, { field: 'key', value: idOrName })
    if (found.revokedAt === null) {
      found.revokedAt = new Date().toISOString()
      await redis.hset(keys.apiKeys, found.id, JSON.stringify(found))
    }
    return withoutHash(found)
  }

  /** The key's record when `token` is a valid, unrevoked key; null otherwise. */
  async function verify(token: string): Promise<ApiKeyInfo | null> {
    const match = KEY_PATTERN.exec(token)
    if (!match) return null
    const [, id, secret] = match as unknown as [string, string, string]
    const now = Date.now()
    let entry = cache.get(id)
    if (entry === undefined || now - entry.at >= cacheMs) {
      const json = await redis.hget(keys.apiKeys, id)
      entry = { record: json === null ? null : (JSON.parse(json) as ApiKeyRecord), at: now }
      if (cacheMs > 0) {
        if (cache.size > 10_000) cache.clear()
        cache.set(id, entry)
      }
    }
    const record = entry.record
    // Hash and compare even for an unknown id, so the time taken says nothing about which ids exist.
    const presented = sha256(secret)
    const stored = record === null ? Buffer.alloc(32) : Buffer.from(record.hash, 'hex')
    const equal = stored.length === presented.length && timingSafeEqual(stored, presented)
    if (record === null || !equal || record.revokedAt !== null) return null
    return withoutHash(record)
  }

  return { create, list, revoke, verify }
}

function withoutHash(record: ApiKeyRecord): ApiKeyInfo {
  const { hash: _hash, ...info } = record
  return info
}

export type ApiKeys = ReturnType<typeof createApiKeys>
