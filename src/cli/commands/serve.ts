import { Option, type Command } from 'commander'
import { buildOptions } from '../../config.ts'
import { connectRedis, guardOutage, refuseEviction } from '../../store/redis.ts'
import { createGraphStore } from '../../store/graph-store.ts'
import { createLogger, runServer } from '../../api/server.ts'
import { checkSourceOf } from '../../api/plugins/app/services.ts'
import { requireSourceConfig, walkSourceConfig } from '../../sources/walk-source.ts'
import { explicitParams } from './check.ts'

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('the screening service: HTTP API (POST /v1/screen, /v1/addresses, /v1/graph, /v1/cases, /v1/audit, …), the graph view at /, OpenAPI at /openapi.json, reference at /docs, metrics at /metrics; check workers in-process unless --no-workers')
    .option('--host <host>', 'address to listen on (default EXPOSURE_HOST or 127.0.0.1: loopback only)')
    .option('--port <port>', 'port (default EXPOSURE_PORT or 8080; 0 picks a free one)')
    .option('--no-workers', 'run no check workers in this process (run exposure worker --queues check instead)')
    .addOption(new Option('--source <source>', 'live source of check jobs (default EXPOSURE_CHECK_SOURCE; else rpc when RPC_URL is set, etherscan when ETHERSCAN_URL and ETHERSCAN_API_KEY are, otherwise store: every answer from the published walk)').choices(['store', 'rpc', 'etherscan']))
    .option('--rpc-url <url>', 'JSON-RPC endpoint for --source rpc (default RPC_URL)')
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug (default info)', 'info')
    .action(async (flags: { host?: string; port?: string; workers: boolean; source?: string; rpcUrl?: string; logLevel: string }, command: Command) => {
      // The program's global flags only: this command's --no-workers is not the walk's EXPOSURE_WORKERS.
      const globals = command.parent?.opts() ?? {}
      const options = buildOptions({ ...globals, host: flags.host, port: flags.port, checkSource: flags.source, rpcUrl: flags.rpcUrl }, process.env)
      const source = checkSourceOf(options)
      if (source !== null) requireSourceConfig(source, walkSourceConfig(options))
      // Fail fast with one clear line when Redis is not there; refuse a Redis that may evict keys (the service writes records).
      const probe = await connectRedis(options.redisUrl)
      try {
        const warning = await refuseEviction(probe, globals.allowEviction === true || process.env.EXPOSURE_ALLOW_EVICTION === '1')
        if (warning) process.stderr.write(`${warning}\n`)
        await createGraphStore(probe, options.prefix).assertFormat()
      } finally {
        probe.disconnect()
      }
      const logger = createLogger(flags.logLevel)
      const { fastify, closed } = await runServer({ options, workers: flags.workers, explicitParams: explicitParams({ options }), logger, host: options.host, port: options.port })
      const guard = guardOutage(fastify.services.redis, options.redisUrl, { onDown: (m) => logger.warn(m), onUp: (m) => logger.info(m) })
      const address = fastify.server.address()
      const where = typeof address === 'object' && address !== null ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address)
      logger.info({ url: where, checkSource: source ?? 'store', workers: flags.workers && source !== null }, 'listening')
      process.stderr.write(`exposure serve: listening on ${where} (check source ${source ?? 'store'}${source !== null ? `, ${flags.workers ? 'in-process check workers' : 'no in-process check workers'}` : ''}); docs at ${where}/docs, graph view at ${where}/\n`)
      await closed
      guard.stop()
    })
}
