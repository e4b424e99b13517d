/**
 * Opening inputs for the importers: a path (decompressed by extension: `.bz2`, `.gz`) or an
 * already-open stream, decoded as UTF-8 text chunk by chunk so that big files are never held whole.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { InputError } from '../errors.ts'
import { bunzip2 } from './bzip2.ts'

/** A file path or an open byte (or text) stream. */
export type TextInput = string | NodeJS.ReadableStream

/**
 * Read size. Small on purpose: with 1 MiB chunks the full SDN file peaked at ~250 MB RSS (buffers
 * churned faster than they were released), with 64 KiB at ~110 MB, for the same speed.
 */
const CHUNK_BYTES = 64 * 1024

export interface InputOptions {
  /** Name used in error messages. Default: the path, or `<stream>` for a stream. */
  file?: string
}

/** The name errors use for `input`. */
export function inputName(input: TextInput, options: InputOptions = {}): string {
  if (options.file !== undefined) return options.file
  return typeof input === 'string' ? input : '<stream>'
}

/**
 * Opens `input` as a byte stream: a path is checked first (so a missing file is a clear
 * `FILE_NOT_FOUND`, not a stream error later) and decompressed when it ends in `.bz2` or `.gz`.
 * bzip2 runs in pure JavaScript (see `bzip2.ts`): correct, but slower than the XML parsing.
 */
export async function openBytes(input: TextInput, options: InputOptions = {}): Promise<AsyncIterable<Buffer | string>> {
  if (typeof input !== 'string') return toAsyncIterable(input)
  const file = inputName(input, options)
  try {
    const info = await stat(input)
    if (!info.isFile()) throw new InputError('FILE_NOT_FOUND', 'not a file', { file })
  } catch (error) {
    if (error instanceof InputError) throw error
    throw new InputError('FILE_NOT_FOUND', 'cannot read file', { file, reason: (error as NodeJS.ErrnoException).code ?? String(error) })
  }
  const raw = createReadStream(input, { highWaterMark: CHUNK_BYTES })
  const lower = input.toLowerCase()
  if (lower.endsWith('.bz2')) return mapErrors(bunzip2(raw), (error) => decompressionError(file, 'bzip2', error))
  if (lower.endsWith('.gz')) {
    const gunzip = createGunzip()
    raw.on('error', (error) => gunzip.destroy(error))
    raw.pipe(gunzip)
    return mapErrors(gunzip, (error) => decompressionError(file, 'gzip', error))
  }
  return raw
}

/**
 * Yields the text of `input` in chunks (UTF-8, a leading byte-order mark dropped). Invalid UTF-8
 * is a `MALFORMED_FILE` error.
 */
export async function* readTextChunks(input: TextInput, options: InputOptions = {}): AsyncGenerator<string> {
  const file = inputName(input, options)
  const decoder = new TextDecoder('utf-8', { fatal: true })
  const bytes = await openBytes(input, options)
  try {
    for await (const chunk of bytes) {
      if (typeof chunk === 'string') {
        yield chunk
        continue
      }
      yield decoder.decode(chunk, { stream: true })
    }
    const rest = decoder.decode()
    if (rest !== '') yield rest
  } catch (error) {
    if (error instanceof InputError) throw error
    if (error instanceof TypeError && /decode|encoded|utf/i.test(error.message)) {
      throw new InputError('MALFORMED_FILE', 'not valid UTF-8 text', { file }, { cause: error })
    }
    throw new InputError('MALFORMED_FILE', 'cannot read input', { file, reason: errorMessage(error) }, { cause: error })
  }
}

/** The whole text of a (small) input. */
export async function readText(input: TextInput, options: InputOptions = {}): Promise<string> {
  const parts: string[] = []
  for await (const chunk of readTextChunks(input, options)) parts.push(chunk)
  const text = parts.join('')
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

/** 1-based line number of character `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  return lineCounter(text)(offset)
}

/**
 * A line-number lookup for many offsets in one text: linear overall when the offsets grow (the
 * importers look up entries in file order), restarting from the top when one goes backwards.
 */
export function lineCounter(text: string): (offset: number) => number {
  let position = 0 // newlines before `position` are counted in `line - 1`
  let line = 1
  return (offset) => {
    if (offset < position) {
      position = 0
      line = 1
    }
    let at = text.indexOf('\n', position)
    while (at !== -1 && at < offset) {
      line += 1
      at = text.indexOf('\n', at + 1)
    }
    position = offset
    return line
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function toAsyncIterable(stream: NodeJS.ReadableStream): AsyncIterable<Buffer | string> {
  if (Symbol.asyncIterator in stream) return stream as AsyncIterable<Buffer | string>
  return new Readable().wrap(stream)
}

function decompressionError(file: string, format: string, error: unknown): InputError {
  return new InputError('MALFORMED_FILE', `corrupt ${format} data`, { file, reason: errorMessage(error) }, { cause: error })
}

async function* mapErrors(source: AsyncIterable<Buffer>, map: (error: unknown) => Error): AsyncGenerator<Buffer> {
  try {
    yield* source
  } catch (error) {
    if (error instanceof InputError || (error as NodeJS.ErrnoException).code === 'ENOENT') throw error
    throw map(error)
  }
}
