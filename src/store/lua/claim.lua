-- Claims up to N frontier addresses (fewest hops first) of one partition for one walk job. A job
-- that is run again after a crash (same job id) gets back the addresses it had claimed there, so
-- none is lost. All keys are one partition's (keys.ts).
-- KEYS[1] frontier zset of the run in the partition
-- KEYS[2] claims hash of the run in the partition (job id -> comma-separated hex40)
-- KEYS[3] the partition's walk guard (the running run id): nothing is claimed for another run
-- ARGV[1] job id
-- ARGV[2] N
-- ARGV[3] run id
-- Returns { claimed addresses comma-separated ('' when the frontier is empty), least hops left on
-- the partition's frontier (-1: empty) }, or -1 when the run is not the running walk.
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return -1 end
local function least()
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #first == 0 then return -1 end
  return tonumber(first[2])
end
local existing = redis.call('HGET', KEYS[2], ARGV[1])
if existing then return { existing, least() } end
local popped = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[2]))
local members = {}
for i = 1, #popped, 2 do members[#members + 1] = popped[i] end
if #members == 0 then return { '', -1 } end
local joined = table.concat(members, ',')
redis.call('HSET', KEYS[2], ARGV[1], joined)
return { joined, least() }
