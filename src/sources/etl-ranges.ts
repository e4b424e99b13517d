import { open } from 'node:fs/promises'

/**
 * Byte ranges of one large etl CSV file, so that several ingest jobs read it at once (issue 11:
 * "files or byte ranges of files"). BigQuery exports and hand-made dumps can be single files of
 * many gigabytes; ethereum-etl's own exports are already split by block range and stay whole.
 *
 * A range starts right after a line break that is outside quotes (a quoted field may hold line
 * breaks: cutting there would split a record) and carries what its reader needs to behave as if
 * it read the whole file: the header line, and the physical line number of its first line, so a
 * bad row is still named by file:line. Finding the cuts costs one sequential pass over the file
 * (counting quotes and line breaks), done by the importing command before the jobs are queued.
 *
 * Not split: gzip files (a gzip stream cannot be entered in the middle), files whose lines end in
 * a bare CR, and files no larger than the range size.
 */
export interface ByteRange {
  /** First byte of the range (the start of a line). */
  start: number
  /** One past its last byte (the end of a line, or of the file). */
  end: number
  /** Physical line number (1-based) of the range's first line. */
  firstLine: number
  /** The file's header line, line break included. */
  header: string
}

const READ_BYTES = 1 << 20
const QUOTE = 0x22
const LF = 0x0a
const CR = 0x0d

/**
 * Cuts `file` into ranges of about `rangeBytes` (never inside a quoted field). Answers null when
 * the file is not to be split (see above); the ranges cover every byte after the header.
 */
export async function splitEtlFileRanges(file: string, size: number, rangeBytes: number): Promise<ByteRange[] | null> {
  if (file.endsWith('.gz') || rangeBytes <= 0 || size <= rangeBytes) return null
  const handle = await open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(READ_BYTES)
    const ranges: ByteRange[] = []
    let header: string | null = null
    const headerBytes: Buffer[] = []
    let inQuotes = false
    let lines = 0 // line feeds before `at`
    let start = -1 // the current range's start (after the header)
    let startLine = 0
    let previous = -1 // the byte before the current one
    for (let offset = 0; offset < size; ) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(READ_BYTES, size - offset), offset)
      if (bytesRead === 0) break
      for (let i = 0; i < bytesRead; i++) {
        const byte = buffer[i]!
        if (byte === QUOTE) inQuotes = !inQuotes
        else if (byte === LF) {
          lines++
          if (!inQuotes) {
            const next = offset + i + 1
            if (header === null) {
              headerBytes.push(Buffer.from(buffer.subarray(0, i + 1)))
              header = Buffer.concat(headerBytes).toString('utf8')
              start = next
              startLine = lines + 1
            } else if (next - start >= rangeBytes && next < size) {
              ranges.push({ start, end: next, firstLine: startLine, header })
              start = next
              startLine = lines + 1
            }
          }
        } else if (header === null && previous === CR && byte !== LF) return null // bare CR line ends: left whole
        previous = byte
      }
      if (header === null) {
        headerBytes.push(Buffer.from(buffer.subarray(0, bytesRead)))
        // No header line in the first megabytes: not a CSV file the reader would take; let it say so.
        if (offset + bytesRead >= 16 * READ_BYTES) return null
      }
      offset += bytesRead
    }
    if (header === null) return null
    if (start < size) ranges.push({ start, end: size, firstLine: startLine, header })
    return ranges.length > 1 ? ranges : null
  } finally {
    await handle.close()
  }
}
