-- Publishes a finished walk run: from now on every answer comes from it. Atomic: a reader sees
-- the previous walk or this one, never a mix. The runs' per-partition keys (the previous run's
-- labels, this run's empty frontiers and claims) are freed by the caller afterwards, partition by
-- partition (keys.ts: they live under 256 tags; this script stays in the prefix's slot).
-- Refuses when the run is no longer the running walk (interrupted, replaced) or when the store it
-- walked is gone (Redis restarted without its data: a walk over nothing must never be published).
-- KEYS[1] walk meta (latest attempt: runId, status)
-- KEYS[2] walk current (the published walk's basis)
-- KEYS[3] current seeds set
-- KEYS[4] this run's seeds set
-- KEYS[5] store meta (storeId, version)
-- KEYS[6] current stops set (addresses that were stop nodes by label when the published run started)
-- KEYS[7] this run's stops set
-- KEYS[8] the registered runs (a replaced run is registered here for sure, so its keys are freed
--         even if this process dies before it frees them: walk-runs.ts sweepRuns)
-- ARGV[1] run id
-- ARGV[2] the store id the walk started on
-- ARGV[3] finishedAt (ISO)
-- ARGV[4] store prefix (the previous run's stops set is prefix .. ':walk:r:' .. runId .. ':stops')
-- ARGV[5] '1' when the basis' storeVersion is the store's version now (lazy walks: what they fetched is their input)
-- ARGV[6..] basis fields and values
-- Returns the previous published run id ('' when none).
local meta = redis.call('HMGET', KEYS[1], 'runId', 'status')
if meta[1] ~= ARGV[1] or meta[2] ~= 'running' then
  return redis.error_reply('WALK_STOPPED walk ' .. ARGV[1] .. ' is no longer the running walk (status ' .. tostring(meta[2]) .. ')')
end
local storeId = redis.call('HGET', KEYS[5], 'storeId')
if storeId ~= ARGV[2] then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', 'the store vanished during the walk')
  return redis.error_reply('STORE_VANISHED the store this walk started on is gone (Redis restarted without persistence, or the store was flushed)')
end
local previous = redis.call('HGET', KEYS[2], 'runId')
local prefix = ARGV[4]
redis.call('DEL', KEYS[2])
local fields = { 'runId', ARGV[1], 'finishedAt', ARGV[3] }
for i = 6, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[2], unpack(fields))
if ARGV[5] == '1' then redis.call('HSET', KEYS[2], 'storeVersion', redis.call('HGET', KEYS[5], 'version') or '0') end
redis.call('DEL', KEYS[3], KEYS[6])
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('RENAME', KEYS[4], KEYS[3]) end
if redis.call('EXISTS', KEYS[7]) == 1 then redis.call('RENAME', KEYS[7], KEYS[6]) end
redis.call('HSET', KEYS[1], 'status', 'complete', 'finishedAt', ARGV[3])
if previous and previous ~= ARGV[1] then
  redis.call('UNLINK', prefix .. ':walk:r:' .. previous .. ':stops')
  redis.call('SADD', KEYS[8], previous)
end
return previous or ''
