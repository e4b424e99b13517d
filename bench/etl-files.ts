/**
 * Shared by bench/ingest.ts and bench/cluster.ts: the bench graph as ethereum-etl exports come
 * (files of a fixed number of rows), and `exposure worker --queues ingest` processes to read them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createReadStream, createWriteStream } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const BIN = fileURLToPath(new URL('../bin/exposure.mjs', import.meta.url))

/** Splits one etl CSV into files of `rowsPerFile` rows (`<stem>_000.csv` …), each with the header; removes the original. */
export async function splitEtlFile(file: string, stem: string, dir: string, rowsPerFile: number): Promise<void> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  let header = ''
  let out: ReturnType<typeof createWriteStream> | null = null
  let rows = 0
  let part = 0
  for await (const line of lines) {
    if (header === '') {
      header = line
      continue
    }
    if (out === null || rows === rowsPerFile) {
      out?.end()
      out = createWriteStream(join(dir, `${stem}_${String(part++).padStart(3, '0')}.csv`))
      out.write(`${header}\n`)
      rows = 0
    }
    out.write(`${line}\n`)
    rows++
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
