import { afterEach, describe, expect, it, vi } from 'vitest'
import { MAX_CELL_LENGTH, printJson, printTable, tableCell, terminalSafe } from '../../src/cli/output.ts'

/**
 * Untrusted text (labels, seed sources) is printed escaped on terminals: a right-to-left override
 * would make an address read backwards, an ANSI sequence could rewrite what the table shows.
 */
const RLO = '\u202E'
const ANSI = '\u001B[2K\u001B[31mclean\u001B[0m'

function captureStdout(run: () => void): string {
  let out = ''
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk)
    return true
  })
  try {
    run()
  } finally {
    spy.mockRestore()
  }
  return out
}

afterEach(() => vi.restoreAllMocks())

describe('terminalSafe', () => {
  it('escapes a right-to-left override and an ANSI escape sequence as visible \\u{…}', () => {
    expect(terminalSafe(`Binance ${RLO}14 tellaw`)).toBe('Binance \\u{202E}14 tellaw')
    expect(terminalSafe(ANSI)).toBe('\\u{1B}[2K\\u{1B}[31mclean\\u{1B}[0m')
  })

  it('escapes every C0 control (tab and line feed too), DEL, C1 and the bidi and invisible formatting characters', () => {
    const unsafe = [
      ...Array.from({ length: 0x20 }, (_, i) => i),
      0x7f,
      ...Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
      0x061c,
      0x200b, 0x200c, 0x200d, 0x200e, 0x200f,
      0x202a, 0x202b, 0x202c, 0x202d, 0x202e,
      0x2066, 0x2067, 0x2068, 0x2069,
      0xfeff,
    ]
    for (const code of unsafe) {
      const escaped = terminalSafe(`a${String.fromCharCode(code)}b`)
      expect(escaped, code.toString(16)).toBe(`a\\u{${code.toString(16).toUpperCase()}}b`)
    }
  })

  it('keeps printable text, including non-Latin scripts and emoji', () => {
    for (const text of ['Lazarus Group, bybit_2025: Exploiter 1', '0x098B716B8Aaf21512996dC57EB0615e2383E2f96', 'Биржа 交易所 مبادلة 🐟', 'a\\u{202E}b']) expect(terminalSafe(text)).toBe(text)
  })
})

describe('tables', () => {
  it('printTable escapes every cell and header, and prints a right-to-left override nowhere raw', () => {
    const out = captureStdout(() => printTable([`label${RLO}`, 'n'], [[`evil${RLO}gnp.exe`, 1], [ANSI, 'x\ny']]))
    expect(out).not.toContain(RLO)
    expect(out).not.toContain('\u001B')
    expect(out).toContain('evil\\u{202E}gnp.exe')
    expect(out).toContain('\\u{1B}[31mclean')
    expect(out).toContain('x\\u{A}y')
    expect(out).toContain('label\\u{202E}')
  })

  it(`cuts cells longer than ${MAX_CELL_LENGTH} characters with an ellipsis (per line of a multi-line cell)`, () => {
    expect(tableCell('x'.repeat(MAX_CELL_LENGTH))).toBe('x'.repeat(MAX_CELL_LENGTH))
    expect(tableCell('x'.repeat(1 << 20))).toBe(`${'x'.repeat(MAX_CELL_LENGTH - 1)}…`)
    const out = captureStdout(() => printTable(['sources'], [[['y'.repeat(500), `short${RLO}`]]]))
    expect(out).toContain(`${'y'.repeat(MAX_CELL_LENGTH - 1)}…`)
    expect(out).not.toContain('y'.repeat(MAX_CELL_LENGTH))
    expect(out).toContain('short\\u{202E}')
    expect(out.split('\n').some((line) => line.includes('short'))).toBe(true)
  })

  it('JSON output keeps the exact strings', () => {
    const out = captureStdout(() => printJson({ label: `evil${RLO}gnp.exe`, ansi: ANSI }))
    expect(JSON.parse(out)).toEqual({ label: `evil${RLO}gnp.exe`, ansi: ANSI })
  })
})
