import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'

/** The watch module's Lua scripts (lua/, each with a KEYS/ARGV header), as ioredis custom commands. */
const NAMES = ['alert', 'queue-delivery', 'finish-delivery'] as const
export type WatchScript = (typeof NAMES)[number]

const sources = new Map<WatchScript, string>(NAMES.map((name) => [name, readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')]))

const commandName = (name: WatchScript) => `watch_${name.replace(/-/g, '_')}`

export function callWatchScript(redis: Redis, name: WatchScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  const command = commandName(name)
  const target = redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>
  if (typeof target[command] !== 'function') redis.defineCommand(command, { lua: sources.get(name)! })
  return target[command]!.call(redis, keys.length, ...keys, ...args)
}
