/** The API with the key of this tab (sessionStorage), and errors turned into messages. */
const KEY = 'exposure.apiKey'

export function getKey(): string | null {
  return sessionStorage.getItem(KEY)
}

export function setKey(key: string): void {
  sessionStorage.setItem(KEY, key.trim())
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY)
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code: string) {
    super(message)
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const key = getKey()
  const headers: Record<string, string> = {}
  if (key !== null) headers.authorization = `Bearer ${key}`
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(path, { method: init.method ?? 'GET', headers, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) })
  const text = await response.text()
  if (!response.ok) {
    let detail = text
    let code = String(response.status)
    try {
      const problem = JSON.parse(text) as { detail?: string; code?: string; invalidParams?: { name: string; reason: string }[] }
      detail = problem.detail ?? text
      code = problem.code ?? code
      if (problem.invalidParams?.length) detail += `: ${problem.invalidParams.map((p) => `${p.name} ${p.reason}`).join('; ')}`
    } catch {
      // not JSON: keep the text
    }
    throw new ApiError(response.status, detail, code)
  }
  return JSON.parse(text) as T
}
