import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'

/** The store's Lua scripts, each in its own file under lua/ with a KEYS/ARGV header. */
const NAMES = ['intern-assets', 'append-many', 'relax', 'claim', 'lock', 'apply-journal', 'publish-walk', 'answer', 'incoming', 'counterparties', 'walk-guard', 'out-at', 'list-part', 'write-part', 'value-inputs'] as const
export type ScriptName = (typeof NAMES)[number]

/** Lua shared by several scripts (lua/lib/), put before each script that uses it. */
const LIBRARIES: Partial<Record<ScriptName, readonly string[]>> = { answer: ['out-records'], incoming: ['out-records'], 'out-at': ['out-records'], 'value-inputs': ['out-records'] }
const lua = (path: string) => readFileSync(new URL(`./lua/${path}.lua`, import.meta.url), 'utf8')
const sources = new Map<ScriptName, string>(NAMES.map((name) => [name, [...(LIBRARIES[name] ?? []).map((lib) => lua(`lib/${lib}`)), lua(name)].join('\n')]))

/** Registers every script as an ioredis custom command (EVALSHA with automatic EVAL fallback). */
export function defineScripts(redis: Redis): void {
  for (const [name, lua] of sources) {
    const command = commandName(name)
    if (typeof (redis as unknown as Record<string, unknown>)[command] === 'function') continue
    redis.defineCommand(command, { lua })
  }
}

export function commandName(name: ScriptName): string {
  return `exposure_${name.replace(/-/g, '_')}`
}

type ScriptCaller = (...args: (string | number | Buffer)[]) => Promise<unknown>

/** Calls a script with its key count first, as ioredis' custom commands expect. */
export function callScript(redis: Redis, name: ScriptName, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
  defineScripts(redis)
  const fn = (redis as unknown as Record<string, ScriptCaller>)[commandName(name)]!
  return fn.call(redis, keys.length, ...keys, ...args)
}

/** The same, with binary replies as Buffers (ioredis' `…Buffer` variant of the command). */
export function callScriptBuffer(redis: Redis, name: ScriptName, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
  defineScripts(redis)
  const fn = (redis as unknown as Record<string, ScriptCaller>)[`${commandName(name)}Buffer`]!
  return fn.call(redis, keys.length, ...keys, ...args)
}

/** The same in a pipeline. `binary` replies come back as Buffers (ioredis' `…Buffer` variant). */
export function pipeScript(pipeline: ReturnType<Redis['pipeline']>, name: ScriptName, keys: readonly string[], args: readonly (string | number | Buffer)[], { binary = false } = {}): void {
  const fn = (pipeline as unknown as Record<string, (...a: unknown[]) => unknown>)[commandName(name) + (binary ? 'Buffer' : '')]!
  fn.call(pipeline, keys.length, ...keys, ...args)
}
