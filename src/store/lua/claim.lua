-- Claims up to N frontier addresses (fewest hops first) for one walk job. A job that is run
-- again after a crash (same job id) gets back the addresses it had claimed, so none is lost.
-- KEYS[1] frontier zset of the run
-- KEYS[2] claims hash of the run (job id -> comma-separated hex40)
-- KEYS[3] walk meta hash: nothing is claimed unless it names this run as running
-- ARGV[1] job id
-- ARGV[2] N
-- ARGV[3] run id
-- Returns the claimed addresses, comma-separated ('' when the frontier is empty), or -1 when the
-- run is not the running walk.
local meta = redis.call('HMGET', KEYS[3], 'runId', 'status')
if meta[1] ~= ARGV[3] or meta[2] ~= 'running' then return -1 end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return existing end
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[2]))
local members = {}
for i = 1, #popped, 2 do members[#members + 1] = popped[i] end
if #members == 0 then return '' end
local joined = table.concat(members, ',')
redis.call('HSET', KEYS[2], ARGV[1], joined)
return joined
