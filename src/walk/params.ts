import type { Direction } from '../types.ts'

/** The parameters that decide a walk's labels: answers and incremental walks compare them. */
export interface WalkParams {
  directions: Direction[]
  maxHops: number
  stopCategories: string[]
  counterpartyCap: number
  /** asset ('ETH' or token address) → minimum amount, decimal string */
  dust: Record<string, string>
}

export function walkParams(options: { directions: readonly Direction[]; maxHops: number; stopCategories: readonly string[]; counterpartyCap: number; dust: Readonly<Record<string, bigint | string>> }): WalkParams {
  return {
    directions: [...options.directions].sort(),
    maxHops: options.maxHops,
    stopCategories: [...new Set(options.stopCategories)].sort(),
    counterpartyCap: options.counterpartyCap,
    dust: Object.fromEntries(Object.entries(options.dust).sort(([a], [b]) => (a < b ? -1 : 1)).map(([asset, min]) => [asset, min.toString()])),
  }
}
