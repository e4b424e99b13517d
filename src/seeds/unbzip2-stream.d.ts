/**
 * Types for `unbzip2-stream` (pure-JavaScript bzip2 decompression), which ships none.
 * The module exports a factory for a classic `through` stream: write bzip2 bytes, read the
 * decompressed bytes. It is an old-style stream, so wrap it with `new Readable().wrap(s)` before
 * iterating it with `for await`.
 */
declare module 'unbzip2-stream' {
  import type { Duplex } from 'node:stream'

  function unbzip2Stream(): Duplex
  export default unbzip2Stream
}

/** The block decoder (internal module of the package, used by `bzip2.ts`). */
declare module 'unbzip2-stream/lib/bzip2.js' {
  import type { BitReader } from 'unbzip2-stream/lib/bit_iterator.js'

  const bzip2: {
    /** Reads the stream header; answers the block size (1–9, × 100 000 bytes). Throws on bad data. */
    header(bits: BitReader): number
    /**
     * Decodes one block into `buf` (≥ `bufsize` entries, zeroed), calling `stream` per output byte.
     * Answers the running stream CRC, or `null` at the end-of-stream marker. Throws on bad data.
     */
    decompress(bits: BitReader, stream: (byte: number) => void, buf: Int32Array, bufsize: number, streamCRC: number | null): number | null
  }
  export default bzip2
}

declare module 'unbzip2-stream/lib/bit_iterator.js' {
  /** Reads `n` bits (`null`: align to the next byte). `bytesRead` counts consumed bytes. */
  export interface BitReader {
    (n: number | null): number
    bytesRead: number
  }
  export default function bitIterator(nextBuffer: () => Buffer | undefined): BitReader
}
