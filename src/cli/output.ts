import cliProgress from 'cli-progress'
import Table from 'cli-table3'

/** Prints a plain table to stdout (no colours: it is read in logs and pasted in case files). */
export function printTable(head: string[], rows: (string | number)[][]): void {
  const table = new Table({ head, style: { head: [], border: [] } })
  for (const row of rows) table.push(row.map(String))
  process.stdout.write(`${table.toString()}\n`)
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/**
 * A progress bar on stderr when it is a terminal (cli-progress prints nothing otherwise), so
 * stdout stays clean for tables and JSON.
 */
export function progressBar(format: string) {
  const bar = new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true, etaBuffer: 50, fps: 10 }, cliProgress.Presets.shades_classic)
  let started = false
  return {
    update(value: number, total: number, payload: Record<string, unknown> = {}) {
      if (!started) {
        bar.start(Math.max(total, 1), value, payload)
        started = true
      }
      bar.setTotal(Math.max(total, 1))
      bar.update(value, payload)
    },
    stop() {
      if (started) bar.stop()
    },
  }
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US')
}

/** Untrusted text for a terminal: control and bidi characters shown escaped. (Placeholder until the validation work lands.) */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`)
}
