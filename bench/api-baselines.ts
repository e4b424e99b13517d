/**
 * The baselines bench/api.ts prints beside the service: the same Fastify with nothing to do
 * (hello-world), and one ioredis GET per request. `node --import tsx bench/api-baselines.ts
 * hello|get <port> [redisUrl]`; prints "listening" on stderr.
 */
import Fastify from 'fastify'
import { Redis } from 'ioredis'

const [mode, portText, redisUrl] = process.argv.slice(2)
const app = Fastify({ logger: false })
if (mode === 'hello') {
  app.get('/', async () => ({ hello: 'world' }))
} else if (mode === 'get') {
  const redis = new Redis(redisUrl!, { enableAutoPipelining: true })
  await redis.set('{bench}:baseline', JSON.stringify({ address: '0x0000000000000000000000000000000000000000', risk: 'none' }))
  app.get('/', async () => ({ value: await redis.get('{bench}:baseline') }))
} else {
  throw new Error(`mode must be hello or get: ${mode}`)
}
await app.listen({ host: '127.0.0.1', port: Number(portText) })
process.stderr.write('listening\n')
process.once('SIGTERM', () => app.close().then(() => process.exit(0)))
