/**
 * Where the store lives, as one string: the configured Redis URL travels through the whole code
 * (CLI context, BullMQ queues and workers, serve) and every connection is opened from it
 * (store/redis.ts). This module owns that string's forms and what cannot be written in it:
 *
 * - a single server: the operator's `redis://` or `rediss://` URL, as given;
 * - a Redis Cluster: `redis-cluster://[user:password@]h1:p1,h2:p2…`, or `rediss-cluster://…` for
 *   TLS (built by config.ts from --redis-cluster / REDIS_CLUSTER_NODES with {@link clusterUrl};
 *   user and password percent-encoded, so that {@link redactUrl} can always find and hide them);
 * - a TLS CA (--redis-tls-ca): a PEM file's content is too large for a URL and must never show in
 *   a message, so config.ts reads it once and registers it against the URL
 *   ({@link registerRedisTls}); every connection opened on that URL looks it up
 *   ({@link tlsOptionsFor}). Keyed by the URL rather than one process-wide setting, so a process
 *   holding several configurations (tests, `demo`'s fallback server) gives each URL its own CA, and
 *   no function between config and the connections changes its signature.
 *
 * No ioredis here: config.ts depends on this module only.
 */
import type { ConnectionOptions } from 'node:tls'

export const CLUSTER_SCHEME = 'redis-cluster://'
export const TLS_CLUSTER_SCHEME = 'rediss-cluster://'

/** A cluster's seed nodes and what every node it discovers is reached with. */
export interface ClusterSpec {
  tls: boolean
  /** '' for none (the default user). */
  username: string
  /** '' for none. */
  password: string
  nodes: { host: string; port: number }[]
}

export function isClusterUrl(url: string): boolean {
  return url.startsWith(CLUSTER_SCHEME) || url.startsWith(TLS_CLUSTER_SCHEME)
}

/** True for a URL whose connections use TLS (`rediss://`, `rediss-cluster://`). */
export function isTlsUrl(url: string): boolean {
  return url.startsWith('rediss://') || url.startsWith(TLS_CLUSTER_SCHEME)
}

/** The internal URL of a cluster. */
export function clusterUrl(spec: ClusterSpec): string {
  const auth = spec.username === '' && spec.password === '' ? '' : `${encodeURIComponent(spec.username)}${spec.password === '' ? '' : `:${encodeURIComponent(spec.password)}`}@`
  return `${spec.tls ? TLS_CLUSTER_SCHEME : CLUSTER_SCHEME}${auth}${spec.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`
}

/** The parts of a cluster URL built by {@link clusterUrl}. */
export function parseClusterUrl(url: string): ClusterSpec {
  const tls = url.startsWith(TLS_CLUSTER_SCHEME)
  let rest = url.slice(tls ? TLS_CLUSTER_SCHEME.length : CLUSTER_SCHEME.length)
  let username = ''
  let password = ''
  const at = rest.lastIndexOf('@')
  if (at >= 0) {
    const auth = rest.slice(0, at)
    rest = rest.slice(at + 1)
    const colon = auth.indexOf(':')
    username = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon))
    password = colon < 0 ? '' : decodeURIComponent(auth.slice(colon + 1))
  }
  const nodes = rest.split(',').map((node) => {
    const colon = node.lastIndexOf(':')
    return { host: node.slice(0, colon), port: Number(node.slice(colon + 1)) }
  })
  return { tls, username, password, nodes }
}

/**
 * Reads --redis-cluster / REDIS_CLUSTER_NODES: comma-separated nodes, each `host:port` or a node
 * URL `redis://[user:password@]host:port` / `rediss://…` (TLS). Every node must name the same
 * scheme and credentials (they apply to every node the client discovers); a bare `host:port`
 * counts as `redis://` without credentials. Returns the spec, or a problem to report.
 */
export function parseClusterNodes(text: string): ClusterSpec | { problem: string } {
  const entries = text.split(',').map((e) => e.trim())
  if (entries.some((e) => e === '')) return { problem: 'lists an empty node (a stray comma?)' }
  const specs: (ClusterSpec & { shown: string })[] = []
  for (const entry of entries) {
    const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry)
    if (hasScheme && !/^rediss?:\/\//i.test(entry)) return { problem: `node ${JSON.stringify(redactUrl(entry))} must be host:port, redis://[user:password@]host:port or rediss://[user:password@]host:port` }
    if (!hasScheme && !/^[^\s,:/@]+:\d{1,5}$/.test(entry)) return { problem: `node ${JSON.stringify(redactUrl(entry))} must list the cluster's nodes as host:port (or redis://[user:password@]host:port, rediss://… for TLS), comma-separated (any of them; the rest are discovered)` }
    let parsed: URL
    try {
      parsed = new URL(hasScheme ? entry : `redis://${entry}`)
    } catch {
      return { problem: `node ${JSON.stringify(redactUrl(entry))} is not a URL` }
    }
    const shown = JSON.stringify(redactUrl(entry))
    if (parsed.hostname === '') return { problem: `node ${shown} names no host` }
    if (parsed.port === '') return { problem: `node ${shown} names no port: give host:port` }
    if (!/^\/?$/.test(parsed.pathname) || parsed.search !== '' || parsed.hash !== '') return { problem: `node ${shown} must be only [user:password@]host:port (a cluster has no database index or options)` }
    let username: string
    let password: string
    try {
      username = decodeURIComponent(parsed.username)
      password = decodeURIComponent(parsed.password)
    } catch {
      return { problem: `node ${shown} has a badly percent-encoded user or password` }
    }
    specs.push({ tls: parsed.protocol.toLowerCase() === 'rediss:', username, password, nodes: [{ host: parsed.hostname, port: Number(parsed.port) }], shown })
  }
  const first = specs[0]!
  for (const spec of specs.slice(1)) {
    if (spec.tls !== first.tls) return { problem: `nodes ${first.shown} and ${spec.shown} disagree on TLS: give every node as rediss:// (TLS) or none` }
    if (spec.username !== first.username || spec.password !== first.password) return { problem: `nodes ${first.shown} and ${spec.shown} disagree on user or password: every node of a cluster is reached with the same credentials, give the same on each` }
  }
  return { tls: first.tls, username: first.username, password: first.password, nodes: specs.map((s) => s.nodes[0]!) }
}

/** Hides the user and password of a URL (a server's, a node's or a cluster's) for messages. */
export function redactUrl(url: string): string {
  // Up to the last '@' of the authority: a password may hold an unencoded '@'.
  return url.replace(/^((?:[a-z][a-z0-9+.-]*:)?\/\/)?[^/?#]*@/i, (_, scheme: string | undefined) => `${scheme ?? ''}***@`)
}

/** TLS settings that a URL cannot carry, by URL (see the module's comment). */
export interface RedisTls {
  /** PEM of the CA (or CAs) the server's certificate must chain to, instead of the system's. */
  ca?: Buffer
}

const tlsByUrl = new Map<string, RedisTls>()

/** Registers (or with `undefined`, forgets) the TLS settings of connections opened on `url`. */
export function registerRedisTls(url: string, tls: RedisTls | undefined): void {
  if (tls === undefined) tlsByUrl.delete(url)
  else tlsByUrl.set(url, tls)
}

/** The `tls` option of connections on `url`: undefined for plain TCP. */
export function tlsOptionsFor(url: string): ConnectionOptions | undefined {
  if (!isTlsUrl(url)) return undefined
  const ca = tlsByUrl.get(url)?.ca
  return ca === undefined ? {} : { ca }
}
