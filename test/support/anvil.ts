/**
 * Starts a real local Ethereum node (Foundry's anvil, from the @foundry-rs/anvil npm package) for
 * integration tests, on a free port, and stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'

export interface AnvilOptions {
  /** Extra command-line arguments (e.g. `['--hardfork', 'cancun']`). */
  args?: readonly string[]
  /** How long to wait for `eth_chainId` to answer. Default 15 000 ms. */
  timeoutMs?: number
}

export interface AnvilInstance {
  url: string
  port: number
  /** The anvil process id (to diagnose; stop it with `stop()`). */
  pid: number
  stop(): Promise<void>
}

const require = createRequire(import.meta.url)

/** Absolute path of the anvil binary of @foundry-rs/anvil-linux-amd64. */
export function anvilBinary(): string {
  let packageJson: string
  try {
    packageJson = require.resolve('@foundry-rs/anvil-linux-amd64/package.json')
  } catch (error) {
    throw new Error(
      `anvil binary package @foundry-rs/anvil-linux-amd64 is not installed (platform ${process.platform}/${process.arch}; run npm install)`,
      { cause: error },
    )
  }
  const binary = join(dirname(packageJson), 'bin', 'anvil')
  if (!existsSync(binary)) throw new Error(`anvil binary not found at ${binary}`)
  return binary
}

/** A TCP port that was free a moment ago (bind port 0 on loopback, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') {
        server.close()
        reject(new Error('could not read the port of a loopback listener'))
        return
      }
      const { port } = address
      server.close(() => resolve(port))
    })
  })
}

async function chainIdAnswers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    })
    if (!response.ok) return false
    const body = (await response.json()) as { result?: unknown }
    return typeof body.result === 'string'
  } catch {
    return false
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve()
      return
    }
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(killTimer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** One attempt on one port; rejects with `exitedEarly` set when anvil quit (e.g. port taken). */
async function startOnce(binary: string, port: number, args: readonly string[], timeoutMs: number): Promise<AnvilInstance> {
  const child = spawn(binary, ['--host', '127.0.0.1', '--port', String(port), '--silent', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    if (stderr.length < 4000) stderr += chunk
  })
  let exited: string | null = null
  let spawnError: Error | null = null
  child.once('error', (error) => {
    spawnError = error
  })
  child.once('exit', (code, signal) => {
    exited = signal !== null ? `signal ${signal}` : `exit code ${code}`
  })

  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (spawnError !== null) throw new Error(`could not start anvil (${binary}): ${(spawnError as Error).message}`)
    if (exited !== null) {
      const error = new Error(`anvil exited before answering on port ${port} (${exited})${stderr ? `: ${stderr.trim()}` : ''}`)
      Object.assign(error, { exitedEarly: true })
      throw error
    }
    if (await chainIdAnswers(url)) break
    if (Date.now() > deadline) {
      await stopProcess(child)
      throw new Error(`anvil did not answer eth_chainId on ${url} within ${timeoutMs} ms${stderr ? `: ${stderr.trim()}` : ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const pid = child.pid
  if (pid === undefined) throw new Error('anvil has no process id')
  return { url, port, pid, stop: () => stopProcess(child) }
}

/**
 * Spawns anvil on a free loopback port (`--silent`), waits until `eth_chainId` answers (15 s by
 * default, then a clear error), and returns its URL. `stop()` sends SIGTERM (SIGKILL after 5 s).
 * The free port is found by binding port 0; if another process takes it before anvil does, anvil
 * exits and a new port is tried (3 attempts).
 */
export async function startAnvil(options: AnvilOptions = {}): Promise<AnvilInstance> {
  const binary = anvilBinary()
  const timeoutMs = options.timeoutMs ?? 15_000
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort()
    try {
      return await startOnce(binary, port, options.args ?? [], timeoutMs)
    } catch (error) {
      lastError = error
      if (!(error instanceof Error && 'exitedEarly' in error)) throw error
    }
  }
  throw lastError
}
