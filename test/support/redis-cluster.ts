import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { Redis, type RedisOptions } from 'ioredis'
import { freePort } from '../../src/store/private-redis.ts'
import { clusterUrl } from '../../src/store/redis-location.ts'
import { tlsServerArgs, type TestTls } from './redis-tls.ts'

const execFileAsync = promisify(execFile)

export interface TestCluster {
  /**
   * `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,…` (what --redis-cluster / REDIS_CLUSTER_NODES take, with the scheme);
   * with a password or TLS `redis-cluster://:password@…` / `rediss-cluster://…` (store/redis-location.ts).
   */
  url: string
  /** host:port of every node, masters first as created. */
  nodes: string[]
  /** Every node as a node URL (`redis://[:password@]host:port`, `rediss://…` with TLS): what --redis-cluster takes. */
  nodeUrls: string[]
  /** host:port of the nodes that are masters now. */
  masters(): Promise<string[]>
  /** SIGKILLs the node at host:port (a lost master: its replica is promoted after the node timeout). */
  kill(node: string): Promise<void>
  /** Waits until the cluster says ok and every slot has a live master. */
  waitOk(timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

/** A free port whose cluster bus port (+10000) is free too. */
async function freeClusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port + 10_000 > 65_535 || taken.has(port)) continue
    const bus = await freePortNear(port + 10_000)
    if (bus) {
      taken.add(port)
      return port
    }
  }
}

/** True when `port` can be bound on loopback now. */
function freePortNear(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(({ createServer }) => {
      const server = createServer()
      server.once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
    })
  })
}

/**
 * A real Redis Cluster from Debian's redis-server: 3 masters and 3 replicas on free loopback
 * ports, without persistence, created with `redis-cli --cluster create`, torn down by stop().
 * With `password`: every node requires it (requirepass, and masterauth for replication). With
 * `tls`: TLS only (no plain port; cluster bus and replication over TLS too, so the cluster
 * announces the TLS ports), with the certificate of `tls` (redis-tls.ts).
 */
export async function startRedisCluster({ masters = 3, replicas = 1, password, tls, slotRanges }: { masters?: number; replicas?: number; password?: string; tls?: TestTls; slotRanges?: readonly (readonly [number, number])[] } = {}): Promise<TestCluster> {
  if (slotRanges !== undefined && (slotRanges.length !== masters || replicas !== 0)) throw new Error('slotRanges: one range per master, and no replicas')
  const dir = await mkdtemp(join(tmpdir(), 'exposure-cluster-'))
  const taken = new Set<number>()
  const ports: number[] = []
  for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await freeClusterPort(taken))
  const children = new Map<string, ChildProcess>()
  const security = (port: number) => [
    ...(tls ? [...tlsServerArgs(tls, port), '--tls-cluster', 'yes', '--tls-replication', 'yes'] : ['--port', String(port)]),
    ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password]),
  ]
  // How the harness' own clients and redis-cli reach a node.
  const clientOptions: RedisOptions = { ...(password === undefined ? {} : { password }), ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}) }
  const cliArgs = [...(tls ? ['--tls', '--cacert', tls.ca] : []), ...(password === undefined ? [] : ['-a', password, '--no-auth-warning'])]
  for (const port of ports) {
    const child = spawn('redis-server', [...security(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir], { stdio: 'ignore' })
    children.set(`127.0.0.1:${port}`, child)
  }
  const nodes = ports.map((p) => `127.0.0.1:${p}`)
  for (const node of nodes) await waitPing(node, clientOptions)
  if (slotRanges === undefined) {
    await execFileAsync('redis-cli', [...cliArgs, '--cluster', 'create', ...nodes, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 })
  } else {
    // By hand, as an operator assigns planned ranges: each master its range, then they meet.
    const cli = (node: string, ...args: string[]) => execFileAsync('redis-cli', [...cliArgs, '-h', node.split(':')[0]!, '-p', node.split(':')[1]!, ...args], { timeout: 10_000 })
    for (const [i, [first, last]] of slotRanges.entries()) await cli(nodes[i]!, 'CLUSTER', 'ADDSLOTSRANGE', String(first), String(last))
    for (const node of nodes.slice(1)) await cli(nodes[0]!, 'CLUSTER', 'MEET', node.split(':')[0]!, node.split(':')[1]!)
  }

  async function info(node: string): Promise<string | null> {
    const [host, port] = node.split(':')
    const client = new Redis({ ...clientOptions, host: host!, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 })
    client.on('error', () => undefined)
    try {
      await client.connect()
      return String(await client.cluster('INFO')) + '\n' + String(await client.cluster('NODES'))
    } catch {
      return null
    } finally {
      client.disconnect()
    }
  }

  const cluster: TestCluster = {
    url: clusterUrl({ tls: tls !== undefined, username: '', password: password ?? '', nodes: ports.map((port) => ({ host: '127.0.0.1', port })) }),
    nodes,
    nodeUrls: nodes.map((node) => `${tls ? 'rediss' : 'redis'}://${password === undefined ? '' : `:${encodeURIComponent(password)}@`}${node}`),
    async masters() {
      for (const node of nodes) {
        if (children.get(node)?.exitCode !== null || children.get(node)?.signalCode !== null) continue
        const text = await info(node)
        if (text === null) continue
        // CLUSTER NODES: id, ip:port@bus, flags, master id, ping, pong, epoch, link state, slots…
        return text
          .split('\n')
          .map((line) => line.trim().split(' '))
          .filter((f) => f.length >= 9 && f[2]!.split(',').includes('master') && !f[2]!.split(',').some((flag) => flag.startsWith('fail')))
          .map((f) => f[1]!.split('@')[0]!)
          .sort()
      }
      return []
    },
    async kill(node) {
      const child = children.get(node)
      if (!child || child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    },
    async waitOk(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const live = nodes.filter((n) => children.get(n)?.exitCode === null && children.get(n)?.signalCode === null)
        const states = await Promise.all(live.map(info))
        if (states.every((s) => s !== null && s.includes('cluster_state:ok'))) return
        if (Date.now() > deadline) throw new Error(`cluster not ok within ${timeoutMs} ms`)
        await new Promise((r) => setTimeout(r, 200))
      }
    },
    async stop() {
      await Promise.all(
        [...children.values()].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve()
              child.once('exit', () => resolve())
              child.kill('SIGKILL')
            }),
        ),
      )
      await rm(dir, { recursive: true, force: true })
    },
  }
  try {
    await cluster.waitOk()
    // A replica that has not finished its first sync cannot be promoted: wait for every link.
    const deadline = Date.now() + 20_000
    for (;;) {
      const links = await Promise.all(nodes.map((node) => replicationInfo(node, clientOptions)))
      if (links.every((text) => text !== null && (text.includes('role:master') || text.includes('master_link_status:up')))) break
      if (Date.now() > deadline) throw new Error('replicas did not finish their first sync within 20 s')
      await new Promise((r) => setTimeout(r, 200))
    }
  } catch (error) {
    await cluster.stop()
    throw error
  }
  return cluster
}

async function replicationInfo(node: string, clientOptions: RedisOptions): Promise<string | null> {
  const [host, port] = node.split(':')
  const client = new Redis({ ...clientOptions, host: host!, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    return String(await client.info('replication'))
  } catch {
    return null
  } finally {
    client.disconnect()
  }
}

async function waitPing(node: string, clientOptions: RedisOptions): Promise<void> {
  const [host, port] = node.split(':')
  const deadline = Date.now() + 10_000
  for (;;) {
    const client = new Redis({ ...clientOptions, host: host!, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => undefined)
    try {
      await client.connect()
      await client.ping()
      return
    } catch {
      if (Date.now() > deadline) throw new Error(`redis-server on ${node} did not answer within 10 s`)
      await new Promise((r) => setTimeout(r, 50))
    } finally {
      client.disconnect()
    }
  }
}
