/**
 * Check latency as a screening process sees it: a fresh process (its own small heap, as `exposure
 * check` or `exposure serve` has) answers addresses one at a time from the published walk.
 * Run by bench/walk.ts: `node --import tsx bench/check-latency.ts <redisUrl> <prefix> <addressesFile> value|hops`;
 * prints the sorted latencies (ms) as JSON. The first 500 answers warm the JIT and are not counted.
 */
import { readFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { createGraphStore } from '../src/store/graph-store.ts'
import { connectRedis } from '../src/store/redis.ts'
import { createChecker } from '../src/walk/check.ts'
import { DEFAULT_RISK_POLICY } from '../src/walk/risk.ts'
import type { Address } from '../src/types.ts'

const WARMUP = 500
const [redisUrl, prefix, file, mode] = process.argv.slice(2)
const addresses = JSON.parse(await readFile(file!, 'utf8')) as Address[]
const redis = await connectRedis(redisUrl!)
try {
  const checker = createChecker(createGraphStore(redis, prefix!), DEFAULT_RISK_POLICY, { value: mode === 'value' })
  for (const address of addresses.slice(0, WARMUP)) await checker.check([address])
  const latencies: number[] = []
  for (const address of addresses) {
    const start = performance.now()
    await checker.check([address])
    latencies.push(performance.now() - start)
  }
  process.stdout.write(JSON.stringify(latencies.sort((a, b) => a - b)))
} finally {
  redis.disconnect()
}
