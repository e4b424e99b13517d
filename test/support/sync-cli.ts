/**
 * The real CLI as a running process (for syncs that are followed, interrupted, or wait): stderr
 * and stdout as they arrive, a wait for a line, a signal, the exit.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { BIN } from './cli.ts'

export interface RunningCli {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves when stderr (or stdout) matches; rejects if the process exits first or after `timeoutMs` (a hang guard). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>
  /** The exit: code (null when killed by a signal) and signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>
  kill(signal: NodeJS.Signals): void
}

export function startCli(args: readonly string[], env: Record<string, string | undefined> = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, REDIS_URL: undefined, EXPOSURE_PREFIX: undefined, RPC_URL: undefined, EXPOSURE_CONFIRMATIONS: undefined, EXPOSURE_FAILPOINT: undefined, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  const changed = () => {
    for (const l of listeners) l()
  }
  child.stdout!.on('data', (d) => {
    stdout += d
    changed()
  })
  child.stderr!.on('data', (d) => {
    stderr += d
    changed()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => {
      changed()
      resolve({ code, signal, stdout, stderr })
    })
  })
  let done = false
  void exited.then(() => {
    done = true
    changed()
  })
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    kill: (signal) => {
      child.kill(signal)
    },
    waitFor(pattern, timeoutMs = 120_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(stderr) || pattern.test(stdout)) {
            cleanup()
            resolve()
          } else if (done) {
            cleanup()
            reject(new Error(`the process exited before ${pattern}: stderr ${stderr}`))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no ${pattern} within ${timeoutMs} ms (hang guard): stderr ${stderr}`))
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          listeners.delete(check)
        }
        listeners.add(check)
        check()
      })
    },
  }
}
