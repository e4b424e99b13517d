/** CSV reading for the importers: streamed, with the line number of every record. */
import { pipeline, Readable } from 'node:stream'
import { CsvError, parse } from 'csv-parse'
import { InputError } from '../errors.ts'
import { inputName, readTextChunks, type InputOptions, type TextInput } from './input.ts'

export interface CsvRow {
  /** Cells, trimmed. */
  cells: string[]
  /** 1-based line where the record starts. */
  line: number
}

export interface CsvTable {
  /** Header cells, trimmed. */
  header: string[]
  rows: AsyncGenerator<CsvRow>
  /** Stops reading (when the rows are not all wanted). */
  close(): void
}

/**
 * Streams the records of a CSV file (UTF-8, optional BOM, blank lines skipped). Every record must
 * have as many cells as the header.
 *
 * @throws InputError `MALFORMED_FILE` with the line (bad quoting, wrong number of cells, empty file).
 */
export async function readCsv(input: TextInput, options: InputOptions = {}): Promise<CsvTable> {
  const file = inputName(input, options)
  const parser = parse({ info: true, bom: true, skip_empty_lines: true })
  // pipeline (not pipe) so that a read error (missing file, bad UTF-8) reaches the iterator
  pipeline(Readable.from(readTextChunks(input, options)), parser, () => {})
  const records = parser[Symbol.asyncIterator]() as AsyncIterator<{ record: string[]; info: { lines: number } }>
  let lastLine = 0 // last line of the last record read
  const next = async (): Promise<CsvRow | undefined> => {
    let result: IteratorResult<{ record: string[]; info: { lines: number } }>
    try {
      result = await records.next()
    } catch (error) {
      throw toInputError(error, file, lastLine)
    }
    if (result.done === true) return undefined
    const { record, info } = result.value
    lastLine = info.lines
    // info.lines is the record's last line; a quoted cell may span several
    const newlines = record.reduce((n, cell) => n + (cell.match(/\n/g)?.length ?? 0), 0)
    return { cells: record.map((cell) => cell.trim()), line: info.lines - newlines }
  }
  const first = await next()
  if (first === undefined) throw new InputError('MALFORMED_FILE', 'empty CSV file: no header', { file, line: 1 })
  async function* rows(): AsyncGenerator<CsvRow> {
    for (;;) {
      const row = await next()
      if (row === undefined) return
      yield row
    }
  }
  return { header: first.cells, rows: rows(), close: () => parser.destroy() }
}

function toInputError(error: unknown, file: string, lastLine: number): InputError {
  if (error instanceof InputError) return error
  if (error instanceof CsvError && error.code === 'CSV_QUOTE_NOT_CLOSED') {
    // csv-parse names the end of the file; the quote opened in the record after the last good one
    return new InputError('MALFORMED_FILE', 'malformed CSV: a quote opened in this record is never closed', { file, line: lastLine + 1 }, { cause: error })
  }
  if (error instanceof CsvError) {
    const line = typeof error.lines === 'number' ? error.lines : undefined
    const message = error.message.replace(/\s*(at|on) line \d+\.?$/, '')
    return new InputError('MALFORMED_FILE', `malformed CSV: ${message}`, line === undefined ? { file } : { file, line }, { cause: error })
  }
  return new InputError('MALFORMED_FILE', `cannot read CSV: ${error instanceof Error ? error.message : String(error)}`, { file }, { cause: error })
}

/** One CSV cell: quoted when it holds a comma, quote, or line break (RFC 4180). */
export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

/** CSV text of `rows` (the first is the header), `\n` line ends, trailing newline. */
export function toCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => row.map(csvCell).join(',')).join('\n') + '\n'
}
