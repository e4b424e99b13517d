-- Writes a journal part that an ingest worker prepared for an import's commit attempt, if the
-- attempt is still the partition's current one. The marker lives in the part's own slot (one
-- per partition, set and cleared by the committing command), so the check and the write are one
-- atomic step on a cluster too: no part is written after the attempt ended, so none is left
-- behind that no list names, and none computed from nodes that a later commit changed is applied.
-- The same guard writes the job's list of the partition's changed nodes.
-- KEYS[1] the partition's attempt marker (string: attempt id)
-- KEYS[2] the journal part (hash: field → value), or the partition's touched list (string)
-- ARGV[1] attempt id
-- ARGV[2] 'hash': ARGV[3..] are field, value pairs to add to the part; 'string': ARGV[3] is the whole value
-- Returns 1 when written, 0 when refused.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == 'hash' then
  redis.call('HSET', KEYS[2], unpack(ARGV, 3))
else
  redis.call('SET', KEYS[2], ARGV[3])
end
return 1
