-- Compare-and-act on a lock whose value is its holder (JSON with a random token): only the holder
-- renews or releases it, and a dead holder's lock is taken over only if it is still that holder's.
-- KEYS[1] lock key
-- ARGV[1] op: 'renew' | 'release' | 'steal'
-- ARGV[2] expected token (renew, release) or the whole expected value (steal)
-- ARGV[3] new value (renew: the holder with a fresh heartbeat; steal: the new holder)
-- ARGV[4] ttl in ms (renew, steal)
-- Returns 1 when done, 0 when the lock is not (or no longer) as expected.
local current = redis.call('GET', KEYS[1])
local op = ARGV[1]
if op == 'steal' then
  if current ~= ARGV[2] and not (current == false and ARGV[2] == '') then return 0 end
  redis.call('SET', KEYS[1], ARGV[3], 'PX', tonumber(ARGV[4]))
  return 1
end
if not current then return 0 end
if not string.find(current, '"token":"' .. ARGV[2] .. '"', 1, true) then return 0 end
if op == 'renew' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', tonumber(ARGV[4]))
  return 1
end
redis.call('DEL', KEYS[1])
return 1
