import cliProgress from 'cli-progress'
import Table from 'cli-table3'

/**
 * Characters that change what a terminal shows rather than showing themselves: C0 controls (tab and
 * line feed too: a label must not start a new line), DEL, C1 controls (U+009B is a one-byte CSI),
 * the soft hyphen, bidirectional formatting (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069: a
 * right-to-left override makes `0xabc…` read backwards), line and paragraph separators, and
 * invisible characters (zero-width space/joiners, word joiner and invisible operators, the
 * Mongolian vowel separator, byte-order mark, interlinear annotation marks).
 */
const UNSAFE = /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u2028-\u202E\u2060-\u206F\uFEFF\uFFF9-\uFFFB]/g

/**
 * Untrusted text (labels, seed sources, file contents) made safe to print on a terminal: every
 * {@link UNSAFE} character becomes a visible escape, `\u{202E}` for a right-to-left override,
 * `\u{1B}` for the ESC of an ANSI sequence. Everything else is kept. JSON output needs none of
 * this: it keeps the exact strings.
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u{${c.charCodeAt(0).toString(16).toUpperCase()}}`)
}

/** Longest table cell (per line), in characters: longer ones end in an ellipsis. */
export const MAX_CELL_LENGTH = 120

/** One table cell: escaped, and cut to {@link MAX_CELL_LENGTH} with an ellipsis. */
export function tableCell(text: string): string {
  const safe = terminalSafe(text)
  return safe.length <= MAX_CELL_LENGTH ? safe : `${safe.slice(0, MAX_CELL_LENGTH - 1)}…`
}

/**
 * Prints a plain table to stdout (no colours: it is read in logs and pasted in case files). Every
 * cell goes through {@link tableCell}; a cell given as an array is printed one element a line.
 */
export function printTable(head: string[], rows: (string | number | readonly string[])[][]): void {
  const table = new Table({ head: head.map(tableCell), style: { head: [], border: [] } })
  for (const row of rows) table.push(row.map((cell) => (Array.isArray(cell) ? cell.map(tableCell).join('\n') : tableCell(String(cell)))))
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

