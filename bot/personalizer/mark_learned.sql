-- The trainer's marks on PostgreSQL (store.commit_training): which events a model learned, as one call
-- inside the transaction that publishes the model.
--
-- ids, states, vals: the events (sorted by event ID, as the service's writers lock them, so the two never
--   deadlock), their new state and the value learned (NULL for none). Events no longer pending are left as
--   they are. at: when they were learned.
--
-- One call instead of a statement per event: sent one by one, each UPDATE was planned for its own
-- parameters (the connections' force_custom_plan, bot/db.py), and that planning was about two fifths of the
-- trainer's backend's CPU in a training round under load. Here PostgreSQL may keep a generic plan, as in
-- write_batch.sql: each UPDATE finds one row by its primary key, and tests/learner/test_postgres.py checks
-- that a plan made while the log was nearly empty does not become a scan of the grown log.
CREATE OR REPLACE FUNCTION pz_mark_learned(ids text[], states smallint[], vals float8[], at float8)
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = auto
AS $function$
BEGIN
    FOR i IN 1 .. coalesce(cardinality(ids), 0) LOOP
        UPDATE pz_events SET state = states[i], learned_value = vals[i], learned_at = at
        WHERE event_id = ids[i] AND state = 0;
    END LOOP;
END
$function$
