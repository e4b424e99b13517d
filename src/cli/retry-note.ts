import type { RetryEvent } from '../sources/rpc/client.ts'

/**
 * Progress while a node or an API makes us wait: one line when a call starts retrying, then at
 * most one every 10 s, so a slow source is visible without flooding the terminal.
 */
export function retryNotes(note: (line: string) => void): (event: RetryEvent) => void {
  let lastAt = 0
  return (e) => {
    if (Date.now() - lastAt < 10_000) return
    lastAt = Date.now()
    const left = Number.isFinite(e.deadlineMs) ? `; giving up after ${Math.round(e.deadlineMs / 1000)} s` : ''
    note(`waiting for ${e.node}: ${e.method} attempt ${e.attempt} failed (${e.cause}), retrying in ${(e.delayMs / 1000).toFixed(1)} s${left}`)
  }
}
