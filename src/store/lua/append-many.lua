-- Appends one blob to each key: a whole staging batch in one round trip (APPEND has no
-- multi-key form).
-- KEYS[i] staging key
-- ARGV[i] bytes to append to KEYS[i]
-- Returns the number of keys written.
for i = 1, #KEYS do
  redis.call('APPEND', KEYS[i], ARGV[i])
end
return #KEYS
