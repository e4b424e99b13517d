-- Records the answers of one screening request and appends them to the audit trail, atomically.
-- KEYS[1]        P:screen:records   hash hex40 → JSON record (the last answer given per address)
-- KEYS[2]        P:audit            stream, trimmed by age on every append
-- KEYS[2 + i]    P:audit:a:<hex40>  the i-th entry's per-address index (zset id → ms)
-- ARGV[1]        now (ms)
-- ARGV[2]        retention (ms): entries older than now - retention are trimmed
-- ARGV[3]        n: entries
-- then per entry: hex40, record JSON ('' = keep the stored record), field count f, f field/value pairs
-- Returns the audit entry ids, in order.
local now = tonumber(ARGV[1])
local retention = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local minId = tostring(math.max(0, now - retention))
local ids = {}
local a = 4
for i = 1, n do
  local hex = ARGV[a]
  local record = ARGV[a + 1]
  local f = tonumber(ARGV[a + 2])
  if record ~= '' then redis.call('HSET', KEYS[1], hex, record) end
  local fields = {}
  for j = 1, f * 2 do fields[j] = ARGV[a + 2 + j] end
  local id = redis.call('XADD', KEYS[2], 'MINID', '~', minId, '*', unpack(fields))
  local index = KEYS[2 + i]
  redis.call('ZADD', index, now, id)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. minId)
  redis.call('PEXPIRE', index, retention)
  ids[i] = id
  a = a + 3 + f * 2
end
return ids
