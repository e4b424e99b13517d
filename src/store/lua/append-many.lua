-- Appends one blob to each staging key of an import: a whole staging batch in one round trip
-- (APPEND has no multi-key form). Refused once the guard is gone (the import was dropped: an
-- ingest job still running on another host must not leave staging keys behind).
-- KEYS[1] the guard: on one server the import's record (P:import:<id>); on a Redis Cluster, where
--         a call names one staging key, a key of that key's slot: the record for P:stage:<id>:x,
--         the partition's live marker (Q:import:<id>:live) for Q:stage:<id>:p:<q> (graph-store.ts)
-- KEYS[i + 1] staging key
-- ARGV[i] bytes to append to KEYS[i + 1]
-- Returns the number of keys written.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return redis.error_reply('IMPORT_GONE the import was dropped: nothing more is staged for it')
end
for i = 2, #KEYS do
  redis.call('APPEND', KEYS[i], ARGV[i - 1])
end
return #KEYS - 1
