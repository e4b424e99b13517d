/**
 * Watchlists: wallets whose answer rescans keep current, with an alert when it changes. Entries
 * belong to an owner: 'cli' for the command line, 'key:<id>' for an API key (each key sees and
 * removes only its own). Besides the entries, every wallet screened through the service within
 * EXPOSURE_WATCH_SCREENED is watched (its record in P:screen:records says when and by which key).
 */
import type { Redis } from 'ioredis'
import { durationMs } from '../config.ts'
import { InputError } from '../errors.ts'
import { parseAddress } from '../seeds/address.ts'
import { readCsv } from '../seeds/csv.ts'
import type { StoreKeys } from '../store/keys.ts'
import type { Address } from '../types.ts'
import { checksumAddress } from '../walk/checksum.ts'
import type { ScreenRecord } from '../screen/records.ts'

export interface WatchEntry {
  /** EIP-55. */
  address: string
  /** 'cli' or 'key:<api key id>'. */
  owner: string
  /** The caller's own reference (a customer id, a case number); '' none. */
  ref: string
  addedAt: string
  /** ISO time the entry lapses; null never. */
  expiresAt: string | null
}

export interface WatchInput {
  address: Address
  ref: string
}

/** A watched wallet and why: its entries and, when screened within the window, by which key. */
export interface WatchedWallet {
  address: Address
  entries: WatchEntry[]
  /** The API key name of the last screening within the window (null: not watched by screening). */
  screenedBy: string | null
}

export const MAX_REF_LENGTH = 200
const OWNER = /^(cli|key:[0-9a-f]{12})$/

/** `90d`, `12h`, `30m`, `45s`, or `never` → ms (null: never). */
export function parseExpires(text: string | undefined): number | null {
  if (text === undefined || text.trim() === 'never') return null
  const ms = /^\d+(s|m|h|d)$/.test(text.trim()) ? durationMs(text.trim()) : NaN
  if (!Number.isFinite(ms) || ms <= 0) throw new InputError('INVALID_ARGUMENT', `--expires must be a positive number and a unit (s, m, h, d), e.g. 90d, or never: ${JSON.stringify(text)}`, { field: 'expires', value: text })
  return ms
}

export function checkRef(ref: string, where: { file?: string; line?: number; field?: string } = { field: 'ref' }): string {
  const trimmed = ref.trim()
  // eslint-disable-next-line no-control-regex
  if (trimmed.length > MAX_REF_LENGTH || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new InputError('INVALID_ARGUMENT', `ref must be at most ${MAX_REF_LENGTH} printable characters`, { ...where, value: trimmed.slice(0, 60) })
  }
  return trimmed
}

/**
 * Reads a watchlist CSV: a header with `address` (and optionally `ref`), one wallet per line. All or
 * nothing: the first bad line throws naming file:line and field; nothing is returned partially.
 */
export async function readWatchCsv(file: string): Promise<WatchInput[]> {
  const table = await readCsv(file)
  const header = table.header.map((h) => h.toLowerCase())
  const at = header.indexOf('address')
  const refAt = header.indexOf('ref')
  if (at < 0) {
    table.close()
    throw new InputError('MALFORMED_FILE', 'the header must name an address column (address[,ref])', { file, line: 1, field: 'address', value: table.header.join(',') })
  }
  const out: WatchInput[] = []
  for await (const row of table.rows) {
    const address = parseAddress(row.cells[at] ?? '', { file, line: row.line, field: 'address' })
    const ref = refAt < 0 ? '' : checkRef(row.cells[refAt] ?? '', { file, line: row.line, field: 'ref' })
    out.push({ address, ref })
  }
  if (out.length === 0) throw new InputError('MALFORMED_FILE', 'no wallets in the file', { file })
  return out
}

export function createWatchlist(redis: Redis, keys: Pick<StoreKeys, 'watch' | 'watchLast' | 'screenRecords'>) {
  const field = (owner: string, address: Address) => `${owner}|${address.slice(2).toLowerCase()}`

  /** Adds (or renews) entries in one write; answers them. */
  async function add(owner: string, inputs: readonly WatchInput[], expiresMs: number | null, now = Date.now()): Promise<WatchEntry[]> {
    if (!OWNER.test(owner)) throw new InputError('INVALID_ARGUMENT', `bad watch owner ${JSON.stringify(owner)}`, { field: 'owner', value: owner })
    const entries = inputs.map((i) => ({ address: checksumAddress(i.address), owner, ref: i.ref, addedAt: new Date(now).toISOString(), expiresAt: expiresMs === null ? null : new Date(now + expiresMs).toISOString() }))
    if (entries.length === 0) return []
    await redis.hset(keys.watch, Object.fromEntries(entries.map((e, i) => [field(owner, inputs[i]!.address), JSON.stringify(e)])))
    return entries
  }

  /** The entries of one owner (all owners when null), expired ones included with `now` deciding `active`. */
  async function list(owner: string | null): Promise<WatchEntry[]> {
    const all = await redis.hgetall(keys.watch)
    return Object.entries(all)
      .filter(([f]) => owner === null || f.startsWith(`${owner}|`))
      .map(([, json]) => JSON.parse(json) as WatchEntry)
      .sort((a, b) => a.addedAt.localeCompare(b.addedAt) || a.address.localeCompare(b.address))
  }

  /** Removes one owner's entries of these addresses; answers the ones that were not watched by it. */
  async function remove(owner: string, addresses: readonly Address[]): Promise<{ removed: Address[]; unknown: Address[] }> {
    const removed: Address[] = []
    const unknown: Address[] = []
    for (const a of addresses) ((await redis.hdel(keys.watch, field(owner, a))) === 1 ? removed : unknown).push(a)
    return { removed, unknown }
  }

  /**
   * Every watched wallet now: unexpired entries, and (when `screenedMs` > 0) wallets screened
   * through the service within that window. Sorted by address.
   */
  async function watched(screenedMs: number, now = Date.now()): Promise<WatchedWallet[]> {
    const byAddress = new Map<Address, WatchedWallet>()
    const get = (a: Address) => {
      let w = byAddress.get(a)
      if (w === undefined) byAddress.set(a, (w = { address: a, entries: [], screenedBy: null }))
      return w
    }
    for (const entry of await list(null)) {
      if (entry.expiresAt !== null && Date.parse(entry.expiresAt) <= now) continue
      get(entry.address.toLowerCase() as Address).entries.push(entry)
    }
    if (screenedMs > 0) {
      let cursor = '0'
      do {
        const [next, flat] = await redis.hscan(keys.screenRecords, cursor, 'COUNT', 5_000)
        cursor = next
        for (let i = 0; i < flat.length; i += 2) {
          const record = JSON.parse(flat[i + 1]!) as ScreenRecord
          if (now - Date.parse(record.at) > screenedMs) continue
          get(`0x${flat[i]!}` as Address).screenedBy = record.key ?? 'internal'
        }
      } while (cursor !== '0')
    }
    return [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : 1))
  }

  return { add, list, remove, watched }
}

export type Watchlist = ReturnType<typeof createWatchlist>
