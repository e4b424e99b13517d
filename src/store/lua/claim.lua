-- Claims up to N frontier addresses (fewest hops first) for one walk job. A job that is run
-- again after a crash (same job id) gets back the addresses it had claimed, so none is lost.
-- KEYS[1] frontier zset
-- KEYS[2] claims hash (job id -> comma-separated hex40)
-- ARGV[1] job id
-- ARGV[2] N
-- Returns the claimed addresses, comma-separated ('' when the frontier is empty).
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return existing end
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[2]))
local members = {}
for i = 1, #popped, 2 do members[#members + 1] = popped[i] end
if #members == 0 then return '' end
local joined = table.concat(members, ',')
redis.call('HSET', KEYS[2], ARGV[1], joined)
return joined
