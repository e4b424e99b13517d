import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { promisify } from 'node:util'
import { freePort } from '../../src/store/private-redis.ts'

const execFileAsync = promisify(execFile)

/** A throwaway CA and a server certificate it signs (for 127.0.0.1 and localhost), made by openssl at test time. */
export interface TestTls {
  dir: string
  /** The CA's certificate (what --redis-tls-ca takes). */
  ca: string
  /** A second CA that signed nothing here (a wrong --redis-tls-ca). */
  otherCa: string
  cert: string
  key: string
  remove(): Promise<void>
}

export async function makeTestTls(): Promise<TestTls> {
  const dir = await mkdtemp(join(tmpdir(), 'exposure-tls-'))
  const at = (name: string) => join(dir, name)
  const openssl = (args: string[]) => execFileAsync('openssl', args, { cwd: dir, timeout: 30_000 })
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=exposure test CA'])
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('other-ca.key'), '-out', at('other-ca.pem'), '-days', '2', '-subj', '/CN=exposure other CA'])
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=localhost'])
  await writeFile(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n')
  await openssl(['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), '-days', '2', '-extfile', at('ext.cnf')])
  return { dir, ca: at('ca.pem'), otherCa: at('other-ca.pem'), cert: at('server.pem'), key: at('server.key'), remove: () => rm(dir, { recursive: true, force: true }) }
}

/** redis-server arguments for TLS only (no plain port) with `tls`' certificate; clients need none of their own. */
export function tlsServerArgs(tls: TestTls, port: number): string[] {
  return ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca, '--tls-auth-clients', 'no']
}

/** Waits until a TLS handshake (verified against `ca`) succeeds on 127.0.0.1:port. */
export async function waitTls(port: number, ca: string, timeoutMs = 10_000): Promise<void> {
  const { readFile } = await import('node:fs/promises')
  const caPem = await readFile(ca)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, ca: caPem }, () => {
        socket.end()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`no TLS redis-server on 127.0.0.1:${port} within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface TlsRedis {
  port: number
  stop(): Promise<void>
}

/** A single TLS-only redis-server with a password, without persistence, on a free port. */
export async function startTlsRedis(tls: TestTls, password: string): Promise<TlsRedis> {
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', [...tlsServerArgs(tls, port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', tls.dir], { stdio: 'ignore' })
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGKILL')
    })
  try {
    await waitTls(port, tls.ca)
  } catch (error) {
    await stop()
    throw error
  }
  return { port, stop }
}
