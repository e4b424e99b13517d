import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'

/** The screening service's Lua scripts (lua/, each with a KEYS/ARGV header), as ioredis custom commands. */
const NAMES = ['rate-limit', 'record', 'versions'] as const
export type ScreenScript = (typeof NAMES)[number]

const sources = new Map<ScreenScript, string>(NAMES.map((name) => [name, readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')]))

const commandName = (name: ScreenScript) => `screen_${name.replace(/-/g, '_')}`

/**
 * Defines every script on a connection. Call it before the connection's first command when it
 * auto-pipelines: ioredis builds its automatic pipelines with the commands defined when they
 * start, and a command defined later is missing from a pipeline already open (ioredis #1931).
 */
export function defineScreenScripts(redis: Redis): void {
  const target = redis as unknown as Record<string, unknown>
  for (const name of NAMES) if (typeof target[commandName(name)] !== 'function') redis.defineCommand(commandName(name), { lua: sources.get(name)! })
}

export function callScreenScript(redis: Redis, name: ScreenScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  const command = commandName(name)
  const target = redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>
  if (typeof target[command] !== 'function') redis.defineCommand(command, { lua: sources.get(name)! })
  return target[command]!.call(redis, keys.length, ...keys, ...args)
}
