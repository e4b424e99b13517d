-- Records the answers of watched wallets, appending an alert for each that changed, atomically:
-- an alert and the answer it moves to are written together, and an alert id is appended once.
-- KEYS[1]   P:alerts          stream (field json, field id)
-- KEYS[2]   P:alerts:ids      hash alert id → stream id
-- KEYS[3]   P:watch:last      hash hex40 → JSON WatchedAnswer
-- ARGV[1]   n: entries; then per entry: hex40, answer JSON, alert id ('' = none), alert JSON ('' = none)
-- Returns per entry: the alert's stream id ('' none) and 1 when it was appended now, 0 when it already was.
local n = tonumber(ARGV[1])
local out = {}
local a = 2
for i = 1, n do
  local hex, answer, id, alert = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  a = a + 4
  local sid, new = '', 0
  if id ~= '' then
    local existing = redis.call('HGET', KEYS[2], id)
    if existing then
      sid = existing
    else
      sid = redis.call('XADD', KEYS[1], '*', 'id', id, 'json', alert)
      redis.call('HSET', KEYS[2], id, sid)
      new = 1
    end
  end
  redis.call('HSET', KEYS[3], hex, answer)
  out[#out + 1] = sid
  out[#out + 1] = new
end
return out
