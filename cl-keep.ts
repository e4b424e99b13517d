import { writeFileSync } from 'node:fs'
import { startRedisCluster } from './test/support/redis-cluster.ts'
const c = await startRedisCluster()
writeFileSync('/tmp/cluster-url', c.url.replace('redis-cluster://', ''))
process.on('SIGTERM', async () => { await c.stop(); process.exit(0) })
setInterval(() => {}, 1000)
