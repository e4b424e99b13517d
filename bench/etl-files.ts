/**
 * Shared by bench/ingest.ts and bench/cluster.ts: the bench graph as ethereum-etl exports come
 * (files of a fixed block range), and `exposure worker --queues ingest` processes to read them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createReadStream, createWriteStream } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../bin/exposure.mjs', import.meta.url))

/**
 * Splits one etl CSV, in block order, into files of `blocksPerFile` blocks each, named as
 * ethereum-etl names its exports (`<stem>_00000000_00000499.csv` …: ranges aligned to multiples of
 * `blocksPerFile`, so the tables of one range share a name after their own), each with the header;
 * removes the original.
 */
export async function splitEtlFile(file: string, stem: string, dir: string, blocksPerFile: number): Promise<void> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  let header = ''
  let column = -1
  let out: ReturnType<typeof createWriteStream> | null = null
  let range = -1
  for await (const line of lines) {
    if (header === '') {
      header = line
      column = header.split(',').indexOf('block_number')
      if (column < 0) throw new Error(`${file} has no block_number column`)
      continue
    }
    const block = Number(line.split(',', column + 1)[column])
    const lineRange = Math.floor(block / blocksPerFile)
    if (lineRange < range) throw new Error(`${file} is not in block order (block ${block})`)
    if (lineRange !== range) {
      out?.end()
      range = lineRange
      const pad = (n: number) => String(n).padStart(8, '0')
      out = createWriteStream(join(dir, `${stem}_${pad(range * blocksPerFile)}_${pad((range + 1) * blocksPerFile - 1)}.csv`))
      out.write(`${header}\n`)
    }
    out!.write(`${line}\n`)
  }
  out?.end()
  await unlink(file)
}

/** Starts `exposure worker --queues ingest` and resolves when it is ready. */
export function startIngestWorkerProcess(prefix: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, '--prefix', prefix, 'worker', '--queues', 'ingest'], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      stderr += d
      if (stderr.includes('ingest worker ready')) resolve(child)
    })
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${stderr}`)))
  })
}

/** SIGTERM to every worker process; resolves when all have exited. */
export async function stopProcesses(children: readonly ChildProcess[]): Promise<void> {
  for (const child of children) child.kill('SIGTERM')
  await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)))))
}
