-- Lists a journal part that an ingest worker is about to write for an import's commit attempt
-- (commit.ts, prepare spread over workers). Refused unless the import's record still names that
-- attempt: once the committing command has ended the attempt (finished preparing, failed or
-- dropped the import), a late or duplicate worker lists nothing more.
-- KEYS[1] the import's record (hash, field prepareAttempt)
-- KEYS[2] the import's list of journal parts
-- ARGV[1] attempt id
-- ARGV[2] the part's key
-- Returns 1 when listed, 0 when refused.
if redis.call('HGET', KEYS[1], 'prepareAttempt') ~= ARGV[1] then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
