-- One request against a key's rate: a fixed window of ARGV[2] ms holding at most ARGV[1] requests.
-- The counter lives in Redis, so every server process behind a load balancer shares it.
-- KEYS[1]  P:rl:<key id>   the current window's counter (expires with the window)
-- ARGV[1]  limit (requests per window)
-- ARGV[2]  window length (ms)
-- Returns {requests in this window including this one, ms until the window ends}.
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A counter without expiry (a crash between INCR and PEXPIRE cannot happen in a script, but a
  -- hand-written key can): start a window now.
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return {n, ttl}
