-- What the published walk's answers depend on, in one read: the walk run and the store's versions
-- (screening.ts keeps answers per address under these and reuses one only while they match).
-- KEYS[1] P:walk:current   KEYS[2] P:meta   KEYS[3] P:seeds:version
-- Returns {runId or '', storeId, store version, labels version, seed-set version}.
local meta = redis.call('HMGET', KEYS[2], 'storeId', 'version', 'labelsVersion')
return {
  redis.call('HGET', KEYS[1], 'runId') or '',
  meta[1] or '',
  meta[2] or '0',
  meta[3] or '0',
  redis.call('GET', KEYS[3]) or '0',
}
