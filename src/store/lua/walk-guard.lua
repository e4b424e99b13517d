-- Clears one partition's walk guard (keys.ts Q:walk:running) if it still names the given run: a
-- run that stops must not clear the guard a newer run (which took over) wrote meanwhile.
-- KEYS[1] the partition's walk guard
-- ARGV[1] run id
-- Returns 1 when cleared.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
