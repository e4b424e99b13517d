/**
 * One error type for the whole library (after viem/ethers): a string `code`, a one-line
 * `shortMessage` for people, `details` that name the offending value and where it was, and the
 * `cause`. The CLI maps codes to exit statuses; workers map non-retryable codes to BullMQ's
 * UnrecoverableError.
 */

export type ErrorCode =
  // bad input: exit status 2
  | 'INVALID_ADDRESS'
  | 'MALFORMED_FILE'
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'FILE_NOT_FOUND'
  // faults: exit status 1
  | 'STORE_UNAVAILABLE'
  /** Redis refused a write for lack of memory (maxmemory), or the commit would not fit. */
  | 'STORE_FULL'
  /** Another live process holds what this one needs (an import commit, a walk). */
  | 'STORE_BUSY'
  /** The store changed under an operation in a way it cannot continue from (Redis lost its data). */
  | 'STORE_VANISHED'
  /** A Redis Cluster master failed over during an operation: writes it made may be lost, so it was not completed. */
  | 'FAILED_OVER'
  | 'WALK_FAILED'
  /** An import was dropped (its command failed or was interrupted) while an ingest job was still staging into it. */
  | 'IMPORT_GONE'
  | 'WALK_BUSY'
  /** No complete walk is published: an answer would be unknown, which must never read as 'none'. */
  | 'NO_WALK'
  /** A walk job's run is no longer the running walk (it was interrupted or replaced): the job stops, writing nothing. */
  | 'WALK_STOPPED'
  /** SIGINT/SIGTERM: the command stopped cleanly (exit status 130). */
  | 'INTERRUPTED'
  | 'INTERNAL'
  // RPC / API sources (faults: exit status 1). RATE_LIMITED and UNAVAILABLE are retryable;
  // PRUNED (the node no longer holds that history) is not.
  | 'RPC_UNAVAILABLE'
  | 'RPC_RATE_LIMITED'
  | 'RPC_PRUNED'
  | 'RPC_ERROR'

/** Where a bad value was found. Every field is optional; name as many as are known. */
export interface ErrorDetails {
  file?: string
  line?: number
  field?: string
  value?: string
  [key: string]: string | number | undefined
}

const BAD_INPUT: ReadonlySet<ErrorCode> = new Set([
  'INVALID_ADDRESS',
  'MALFORMED_FILE',
  'INVALID_CONFIG',
  'INVALID_ARGUMENT',
  'FILE_NOT_FOUND',
])

export class BaseError extends Error {
  override name = 'ExposureError'
  readonly code: ErrorCode
  readonly shortMessage: string
  readonly details: ErrorDetails

  constructor(code: ErrorCode, shortMessage: string, details: ErrorDetails = {}, options: { cause?: unknown } = {}) {
    super(formatMessage(shortMessage, details), options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.shortMessage = shortMessage
    this.details = details
  }

  /** True for bad input (the user must change something); false for faults worth retrying. */
  get isBadInput(): boolean {
    return BAD_INPUT.has(this.code)
  }
}

/** Bad input: names the value and where it was. Never retried. */
export class InputError extends BaseError {
  override name = 'InputError'
}

export function isExposureError(error: unknown, code?: ErrorCode): error is BaseError {
  return error instanceof BaseError && (code === undefined || error.code === code)
}

/** `file:line` first (editors and terminals make it clickable), then the other details. */
function formatMessage(shortMessage: string, details: ErrorDetails): string {
  const where = details.file !== undefined ? `${details.file}${details.line !== undefined ? `:${details.line}` : ''}: ` : ''
  const rest = Object.entries(details)
    .filter(([key, value]) => value !== undefined && key !== 'file' && key !== 'line')
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
  return `${where}${shortMessage}${rest.length > 0 ? ` (${rest.join(', ')})` : ''}`
}

/** Exit status for a thrown value: 2 bad input, 130 interrupted (as a shell reports SIGINT), 1 anything else. */
export function exitCodeFor(error: unknown): 1 | 2 | 130 {
  if (isExposureError(error, 'INTERRUPTED')) return 130
  return isExposureError(error) && error.isBadInput ? 2 : 1
}
