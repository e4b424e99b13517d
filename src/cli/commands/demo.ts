import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { buildOptions } from '../../config.ts'
import { readLabelFile } from '../../seeds/labels.ts'
import { readSeedCsv } from '../../seeds/lists.ts'
import { importEtl } from '../../sources/etl-import.ts'
import { createGraphStore } from '../../store/graph-store.ts'
import { startPrivateRedis, type PrivateRedis } from '../../store/private-redis.ts'
import { connectRedis, redactUrl, scanKeys, unlinkKeys, type Redis } from '../../store/redis.ts'
import { storeGlobs } from '../../store/partitions.ts'
import { createChecker } from '../../walk/check.ts'
import { runWalk } from '../../walk/run-walk.ts'
import { DIRECTIONS, type Address } from '../../types.ts'
import { parseAddress } from '../../seeds/address.ts'
import { readFile } from 'node:fs/promises'
import { formatAmount, printScreening } from './check.ts'
import { formatCount } from '../output.ts'

const DEMO_DIR = fileURLToPath(new URL('../../../fixtures/demo/', import.meta.url))
const DEMO_PREFIX = '{exposure-demo}'

/** Connects to REDIS_URL or the default; when neither answers (and REDIS_URL is unset), starts a private redis-server for the run. */
async function demoRedis(url: string | undefined): Promise<{ redis: Redis; url: string; server: PrivateRedis | null }> {
  if (url !== undefined) return { redis: await connectRedis(url), url, server: null }
  const fallback = 'redis://127.0.0.1:6379'
  try {
    return { redis: await connectRedis(fallback), url: fallback, server: null }
  } catch {
    process.stderr.write(`no Redis answers at ${fallback}: starting a private redis-server for this demo\n`)
    const server = await startPrivateRedis()
    // Interrupted (Ctrl-C, closed pipe): do not leave the private server behind.
    const stopAndExit = (code: number) => () => void server.stop().finally(() => process.exit(code))
    process.once('SIGINT', stopAndExit(130))
    process.once('SIGTERM', stopAndExit(143))
    process.stdout.once('error', stopAndExit(1))
    return { redis: await connectRedis(server.url), url: server.url, server }
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('end-to-end demo on bundled real fund flows (Bybit 2025, Ronin 2022): import, seeds, labels, walk, screening table')
    .action(async (_flags: unknown, command: Command) => {
      const globals = command.optsWithGlobals() as { redisUrl?: string; redisTlsCa?: string }
      const given = globals.redisUrl ?? process.env.REDIS_URL
      // Checks a given URL and registers its CA (--redis-tls-ca, REDIS_TLS_CA) before connecting.
      if (given !== undefined) buildOptions({ redisUrl: given, redisTlsCa: globals.redisTlsCa, prefix: DEMO_PREFIX }, process.env)
      const { redis, url, server } = await demoRedis(given)
      try {
        const options = buildOptions({ redisUrl: url, redisTlsCa: globals.redisTlsCa, prefix: DEMO_PREFIX }, process.env)
        // The demo owns its prefix: start from an empty store every time.
        // Its keys are under the prefix's tag and its 256 partition tags (keys.ts), on any master.
        for (const glob of storeGlobs(DEMO_PREFIX)) await scanKeys(redis, glob, (stale) => unlinkKeys(redis, stale))
        const store = createGraphStore(redis, DEMO_PREFIX)
        const say = (text: string) => process.stdout.write(`${text}\n`)
        say(`exposure-tracer demo — store ${DEMO_PREFIX} on ${redactUrl(url)}${server ? ' (private redis-server)' : ''}\n`)
        const imported = await importEtl(store, [DEMO_DIR], { listedTokens: options.listedTokens })
        say(`1. imported ${formatCount(imported.rows)} etl rows → ${formatCount(imported.transfersCounted)} transfers that count (${formatCount(imported.rows - imported.transfersCounted)} rows skipped by the rules: failed, zero-value, unlisted tokens, …)`)
        const seeds = await readSeedCsv(`${DEMO_DIR}seeds.csv`)
        await store.putSeeds(seeds.seeds)
        say(`2. seeds: ${seeds.seeds.length} addresses (OFAC SDN Lazarus Group, FBI PSA on Bybit)`)
        const labels = await readLabelFile(`${DEMO_DIR}labels.csv`)
        await store.putLabels(labels)
        say(`3. service labels: ${labels.length} (stop nodes: exposure reaches them but does not pass through)`)
        const walk = await runWalk(store, {
          redisUrl: url,
          directions: DIRECTIONS,
          maxHops: options.maxHops,
          batchSize: options.batchSize,
          stopCategories: options.stopCategories,
          counterpartyCap: options.counterpartyCap,
          dust: options.dust,
          workers: 2,
          concurrency: options.concurrency,
        })
        say(`4. walk with 2 BullMQ workers, ${options.maxHops} hops, both directions: ${formatCount(walk.labelled.downstream)} addresses downstream, ${formatCount(walk.labelled.upstream)} upstream, ${walk.seconds.toFixed(2)} s\n`)
        const screen = (await readFile(`${DEMO_DIR}screen.csv`, 'utf8'))
          .split(/\r?\n/)
          .slice(1)
          .filter((line) => line.trim() !== '')
          .map((line, i) => parseAddress(line.split(',')[0]!, { file: `${DEMO_DIR}screen.csv`, line: i + 2, field: 'address' }) as Address)
        const results = await createChecker(store, options.riskPolicy).check(screen)
        say('5. screening:')
        printScreening(results)
        // Show a path whose transactions can be looked up (the Ronin rows carry placeholder hashes).
        const placeholder = /^0x0{48}d0e0/
        const example = [...results]
          .filter((r) => r.downstream && r.downstream.hops > 0 && !r.downstream.path.some((s) => placeholder.test(s.txHash)))
          .sort((a, b) => b.downstream!.hops - a.downstream!.hops)[0]
        if (example?.downstream && example.downstream.hops > 0) {
          say(`\nwitness path of ${example.address} (${example.downstream.hops} hops downstream; check it on a block explorer):`)
          for (const step of example.downstream.path) say(`  ${step.from} → ${step.to}  ${formatAmount(step)}  block ${step.blockNumber}  tx ${step.txHash}`)
        }
        say(`\nexplore more: npx exposure --prefix '${DEMO_PREFIX}' path <address>   (needs this Redis: ${server ? 'the private one is gone after the demo' : url})`)
      } finally {
        redis.disconnect()
        if (server) await server.stop()
      }
    })
}
