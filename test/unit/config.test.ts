import { DEFAULT_DUST_FLOORS } from '../../src/walk/dust.ts'
import { describe, expect, it } from 'vitest'
import { buildOptions, CONFIG_ENV_KEYS, HOPS_HELP, MAX_HOPS_LIMIT, type OptionInput } from '../../src/config.ts'
import { InputError } from '../../src/errors.ts'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseClusterUrl, redactUrl, tlsOptionsFor } from '../../src/store/redis-location.ts'
import { clusterNodesOf } from '../../src/store/redis.ts'
import { LABEL_CATEGORIES } from '../../src/seeds/label-categories.ts'

/** Configuration values that would silently change answers are refused, naming the key and where it came from. */
function refusal(flags: OptionInput, env: Record<string, string>): InputError {
  try {
    buildOptions(flags, env)
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error(`expected ${JSON.stringify({ flags, env })} to be refused`)
}

describe('empty values', () => {
  it('EXPOSURE_MAX_HOPS= is refused (it used to coerce to 0 hops), naming the variable and that it came from the environment', () => {
    const error = refusal({}, { EXPOSURE_MAX_HOPS: '' })
    expect(error.code).toBe('INVALID_CONFIG')
    expect(error.details.field).toBe('maxHops')
    expect(error.message).toContain('EXPOSURE_MAX_HOPS')
    expect(error.message).toMatch(/environment/)
    expect(error.message).toMatch(/empty/)
  })

  it('an empty or blank value of every key is refused, from the environment and from a flag', () => {
    for (const [key, variable] of Object.entries(CONFIG_ENV_KEYS)) {
      for (const blank of ['', '  ']) {
        const fromEnv = refusal({}, { [variable]: blank })
        expect(fromEnv.details.field, variable).toBe(key)
        expect(fromEnv.message, variable).toContain(variable)
        const fromFlag = refusal({ [key]: blank }, {})
        expect(fromFlag.details.field, key).toBe(key)
        expect(fromFlag.message, key).toMatch(/flag/)
      }
    }
  })

  it('keys whose default is "none" still default to none when unset; dust floors default to about 10 USD per asset, none on request', () => {
    const options = buildOptions({}, {})
    expect(options.rpcUrl).toBe('')
    expect(options.etherscanApiKey).toBe('')
    expect(options.dust).toEqual(DEFAULT_DUST_FLOORS)
    expect(buildOptions({}, { EXPOSURE_DUST: 'none' }).dust).toEqual({})
    expect(buildOptions({}, { EXPOSURE_DUST: 'ETH=5' }).dust).toEqual({ ETH: 5n })
  })
})

describe('stop categories', () => {
  it('an unknown category is refused, listing the known ones (a typo used to leave no stop nodes at all)', () => {
    const error = refusal({}, { EXPOSURE_STOP_CATEGORIES: 'exchnage' })
    expect(error.details.field).toBe('stopCategories')
    expect(error.message).toContain('EXPOSURE_STOP_CATEGORIES')
    expect(error.message).toContain('exchnage')
    for (const category of LABEL_CATEGORIES) expect(error.message).toContain(category)
    expect(refusal({}, { EXPOSURE_STOP_CATEGORIES: 'mixer,exchnage' }).message).toContain('exchnage')
  })

  it('known categories are kept (any case); "none" is the explicit empty list', () => {
    expect(buildOptions({}, { EXPOSURE_STOP_CATEGORIES: 'Mixer, exchange' }).stopCategories).toEqual(['mixer', 'exchange'])
    expect(buildOptions({}, { EXPOSURE_STOP_CATEGORIES: 'none' }).stopCategories).toEqual([])
    expect(buildOptions({}, {}).stopCategories).toEqual(['exchange', 'dex', 'bridge', 'mixer', 'service'])
    expect(refusal({}, { EXPOSURE_STOP_CATEGORIES: 'none,mixer' }).details.field).toBe('stopCategories')
  })
})

describe('prefix', () => {
  it('is put in a hash tag; one shaped like a store\'s partition tag ({name:pXX}) is refused, naming the flag', () => {
    expect(buildOptions({ prefix: 'cases' }, {}).prefix).toBe('{cases}')
    expect(buildOptions({ prefix: '{exposure:prod}' }, {}).prefix).toBe('{exposure:prod}')
    for (const prefix of ['{exposure:p00}', 'exposure:pa7', '{x}:p3f']) {
      const error = refusal({ prefix }, {})
      expect(error.details.field).toBe('prefix')
      expect(error.message).toContain('--prefix')
    }
    expect(refusal({}, { EXPOSURE_PREFIX: '{exposure:pff}' }).message).toContain('EXPOSURE_PREFIX')
    // Partition tags are lowercase hex: other endings are kept.
    expect(buildOptions({ prefix: '{exposure:pAD}' }, {}).prefix).toBe('{exposure:pAD}')
    expect(buildOptions({ prefix: '{exposure:p1}' }, {}).prefix).toBe('{exposure:p1}')
  })
})

describe('Redis URL', () => {
  it('a database index must be a decimal integer (its range is checked by the connection)', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379/', 'redis://127.0.0.1:6379/0', 'redis://h:1/15', 'redis://h:1/99', 'rediss://user:pw@h:1/3']) {
      expect(buildOptions({}, { REDIS_URL: url }).redisUrl).toBe(url)
    }
    for (const url of ['redis://127.0.0.1:6379/abc', 'redis://h:1/1/2', 'redis://h:1/-1', 'redis://h:1/1.5', 'redis://h:1/ 1']) {
      const error = refusal({}, { REDIS_URL: url })
      expect(error.details.field, url).toBe('redisUrl')
      expect(error.message, url).toContain('REDIS_URL')
    }
    expect(refusal({ redisUrl: 'redis://h:1/abc' }, {}).message).toMatch(/--redis-url/)
  })
})

describe('Redis Cluster nodes, credentials and TLS', () => {
  const ca = join(mkdtempSync(join(tmpdir(), 'exposure-ca-')), 'ca.pem')
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')

  it('host:port nodes make a redis-cluster:// URL; node URLs carry one scheme and one set of credentials', () => {
    expect(buildOptions({}, { REDIS_CLUSTER_NODES: '127.0.0.1:7000, 127.0.0.1:7001' }).redisUrl).toBe('redis-cluster://127.0.0.1:7000,127.0.0.1:7001')
    expect(buildOptions({}, { REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000,127.0.0.1:7001' }).redisUrl).toBe('redis-cluster://127.0.0.1:7000,127.0.0.1:7001')
    const url = buildOptions({ redisCluster: 'rediss://app:p%40ss@h1:7000,rediss://app:p%40ss@h2:7001' }, {}).redisUrl
    expect(url).toBe('rediss-cluster://app:p%40ss@h1:7000,h2:7001')
    expect(parseClusterUrl(url)).toEqual({ tls: true, username: 'app', password: 'p@ss', nodes: [{ host: 'h1', port: 7000 }, { host: 'h2', port: 7001 }] })
    expect(clusterNodesOf(url)).toEqual([{ host: 'h1', port: 7000 }, { host: 'h2', port: 7001 }])
    expect(parseClusterUrl(buildOptions({}, { REDIS_CLUSTER_NODES: 'redis://:pw@h:1' }).redisUrl)).toEqual({ tls: false, username: '', password: 'pw', nodes: [{ host: 'h', port: 1 }] })
    expect(redactUrl(url)).toBe('rediss-cluster://***@h1:7000,h2:7001')
  })

  it('nodes that disagree on TLS or credentials, or are no node, are refused naming the field, never showing a password', () => {
    for (const nodes of ['rediss://:pw@h:1,redis://:pw@h:2', 'redis://:pw@h:1,redis://:other@h:2', 'redis://:pw@h:1,h:2', 'http://h:1', 'redis://:pw@h', 'redis://:pw@h:1/2', 'h', 'h:1,,h:2']) {
      const error = refusal({}, { REDIS_CLUSTER_NODES: nodes })
      expect(error.details.field, nodes).toBe('redisCluster')
      expect(error.message, nodes).toContain('REDIS_CLUSTER_NODES')
      expect(error.message, nodes).not.toMatch(/pw|other/)
    }
    expect(refusal({}, { REDIS_CLUSTER_NODES: 'rediss://:pw@h:1,redis://:pw@h:2' }).message).toMatch(/TLS/)
    expect(refusal({ redisUrl: 'rediss://:hunter2@h:1/x' }, {}).message).not.toContain('hunter2')
  })

  it('--redis-tls-ca / REDIS_TLS_CA: read once, for rediss:// only; a missing file or a file without a certificate is refused naming the file and the field', () => {
    expect(buildOptions({ redisTlsCa: ca }, { REDIS_URL: 'rediss://:pw@h:1' }).redisTlsCa).toBe(ca)
    expect(tlsOptionsFor('rediss://:pw@h:1')).toEqual({ ca: readFileSync(ca) })
    expect(buildOptions({}, { REDIS_TLS_CA: ca, REDIS_CLUSTER_NODES: 'rediss://h:1' }).redisUrl).toBe('rediss-cluster://h:1')
    expect(tlsOptionsFor('rediss-cluster://h:1')).toEqual({ ca: readFileSync(ca) })
    // Without a CA: TLS with the system's CAs; plain URLs get no TLS.
    buildOptions({}, { REDIS_URL: 'rediss://:pw@h:1' })
    expect(tlsOptionsFor('rediss://:pw@h:1')).toEqual({})
    expect(tlsOptionsFor('redis://h:1')).toBeUndefined()
    const missing = refusal({}, { REDIS_URL: 'rediss://h:1', REDIS_TLS_CA: '/no/such/ca.pem' })
    expect(missing.details.field).toBe('redisTlsCa')
    expect(missing.message).toContain('/no/such/ca.pem')
    expect(missing.message).toContain('REDIS_TLS_CA')
    const notPem = join(dirname(ca), 'not.pem')
    writeFileSync(notPem, 'hello')
    expect(refusal({ redisTlsCa: notPem }, { REDIS_URL: 'rediss://h:1' }).message).toMatch(/--redis-tls-ca.*PEM/)
    expect(refusal({ redisTlsCa: ca }, { REDIS_URL: 'redis://h:1' }).message).toMatch(/without TLS/)
    expect(refusal({ redisTlsCa: ca }, { REDIS_CLUSTER_NODES: 'h:1' }).details.field).toBe('redisTlsCa')
  })
})

describe('hops', () => {
  it(`the maximum is ${MAX_HOPS_LIMIT}, named in the refusal and in the --hops help text`, () => {
    expect(MAX_HOPS_LIMIT).toBe(16)
    expect(buildOptions({}, { EXPOSURE_MAX_HOPS: '16' }).maxHops).toBe(16)
    expect(refusal({}, { EXPOSURE_MAX_HOPS: '17' }).message).toMatch(/16/)
    expect(refusal({ maxHops: '17' }, {}).message).toMatch(/--hops/)
    expect(HOPS_HELP).toMatch(/16/)
  })

  it('integers are decimal digits: 1e1, 0x10, 4.0 and -0 are refused', () => {
    for (const value of ['1e1', '0x10', '4.0', '-0', '+4', 'four']) expect(refusal({}, { EXPOSURE_MAX_HOPS: value }).details.field, value).toBe('maxHops')
    for (const value of ['1e3', '0x10']) expect(refusal({}, { EXPOSURE_COUNTERPARTY_CAP: value }).details.field, value).toBe('counterpartyCap')
  })
})

describe('allowEviction', () => {
  it('defaults to false; EXPOSURE_ALLOW_EVICTION takes 1/true/yes or 0/false/no; the flag sets it', () => {
    expect(buildOptions({}, {}).allowEviction).toBe(false)
    for (const yes of ['1', 'true', 'yes', 'TRUE', 'Yes']) expect(buildOptions({}, { EXPOSURE_ALLOW_EVICTION: yes }).allowEviction, yes).toBe(true)
    for (const no of ['0', 'false', 'no', 'NO']) expect(buildOptions({}, { EXPOSURE_ALLOW_EVICTION: no }).allowEviction, no).toBe(false)
    expect(buildOptions({ allowEviction: true }, {}).allowEviction).toBe(true)
    expect(buildOptions({ allowEviction: true }, { EXPOSURE_ALLOW_EVICTION: 'no' }).allowEviction).toBe(true)
    for (const bad of ['maybe', '2', 'on', 'y']) {
      const error = refusal({}, { EXPOSURE_ALLOW_EVICTION: bad })
      expect(error.details.field, bad).toBe('allowEviction')
      expect(error.message).toContain('EXPOSURE_ALLOW_EVICTION')
    }
  })
})
