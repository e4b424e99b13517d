import { writeFileSync } from 'node:fs'
import { spawnSync, spawn } from 'node:child_process'
import { startRedisCluster } from './test/support/redis-cluster.ts'
import { connectRedis } from './src/store/redis.ts'
import slotOf from 'cluster-key-slot'
const c = await startRedisCluster()
const env = { ...process.env, REDIS_URL: undefined, REDIS_CLUSTER_NODES: c.nodes.join(','), DEBUG_EPOCH: '1' } as NodeJS.ProcessEnv
const run = (args: string[]) => spawnSync(process.execPath, ['bin/exposure.mjs', '--prefix', '{fo}', ...args], { env, encoding: 'utf8' })
console.log(run(['import', '/tmp/big']).status, run(['seeds', 'import', '/tmp/big-seeds.csv']).status)
const r = await connectRedis(c.url)
const victim = ((r as any).slots[slotOf('{fo}:meta')] ?? [])[0]
r.disconnect()
const t0 = Date.now()
const log = (s: string) => console.log(((Date.now() - t0) / 1000).toFixed(1), s)
const child = spawn(process.execPath, ['bin/exposure.mjs', '--prefix', '{fo}', 'trace', '--workers', '1', '--concurrency', '1', '--batch-size', '2'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
let errbuf = ''; child.stderr.on('data', (d) => { errbuf += d }); process.on('exit', () => writeFileSync('/tmp/fo-debug.log', errbuf))
child.stdout.on('data', (d) => log('OUT ' + String(d).trim().split('\n').slice(-2).join(' | ')))
setTimeout(() => { log('kill ' + victim); c.kill(victim) }, Number(process.env.KILL_AT ?? 2300))
const code = await new Promise((res) => { child.once('exit', res); setTimeout(() => { log('timeout'); child.kill('SIGKILL'); res('timeout') }, 60000) })
log('exit ' + code)
await c.stop()
