-- An alert's delivery to one endpoint is over (delivered, given up, or the endpoint is gone): it
-- leaves the endpoint's per-address list so the next alert of that address can go.
-- KEYS[1]   P:wh:q:<ep>:<hex40>  list of alert ids
-- KEYS[2]   P:webhooks:done      hash <ep>|<alert id> → outcome
-- KEYS[3]   P:webhooks:stats     hash <ep>:<outcome> → count
-- ARGV[1]   alert id, ARGV[2] endpoint id, ARGV[3] outcome (delivered|failed|dropped)
-- Returns 1 when this call finished it, 0 when it was already finished.
if redis.call('HSETNX', KEYS[2], ARGV[2] .. '|' .. ARGV[1], ARGV[3]) == 0 then
  redis.call('LREM', KEYS[1], 0, ARGV[1])
  return 0
end
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[2] .. ':' .. ARGV[3], 1)
return 1
