-- Queues one alert for one endpoint once: appended to the endpoint's per-address list (delivered in
-- that order) unless it is already there or was delivered.
-- KEYS[1]   P:wh:q:<ep>:<hex40>  list of alert ids, oldest first
-- KEYS[2]   P:webhooks:done      hash <ep>|<alert id> → 1 once delivered or given up
-- ARGV[1]   alert id, ARGV[2] endpoint id
-- Returns 1 when queued now, 0 when it already was (or is done).
if redis.call('HEXISTS', KEYS[2], ARGV[2] .. '|' .. ARGV[1]) == 1 then return 0 end
if redis.call('LPOS', KEYS[1], ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[1])
return 1
