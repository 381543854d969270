-- The trainer's marks on PostgreSQL (store.commit_training): which events a model learned, as one call
-- inside the transaction that publishes the model.
--
-- ids, states, vals: the events (sorted by event ID), their new state and the value learned (NULL for
--   none). Events no longer pending are left as they are. at: when they were learned.
--
-- Two statements for the whole batch, each planned for this call's arrays (force_custom_plan), so planning
-- costs two plans per batch, not one per event, and no plan made while the log was small is kept as it
-- grows. A loop of one UPDATE per event with cached generic plans was tried first: a generic plan made early
-- in a run could find each event by walking ix_pz_events_pending (its predicate matches state = 0) instead
-- of the primary key, and a batch of 1,000 marks then took up to half a second under load.
--
-- The rows are locked first, in event ID order, as the service's writers lock them (write_batch.sql), so the
-- two never deadlock whatever join the UPDATE is planned with. That order is Python's sort of the IDs (code
-- points), hence COLLATE "C": a database's own collation (en_US, say) may order them otherwise.
CREATE OR REPLACE FUNCTION pz_mark_learned(ids text[], states smallint[], vals float8[], at float8)
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $function$
BEGIN
    PERFORM 1 FROM pz_events WHERE event_id = ANY (ids) ORDER BY event_id COLLATE "C" FOR UPDATE;
    UPDATE pz_events SET state = marks.state, learned_value = marks.val, learned_at = at
    FROM unnest(ids, states, vals) AS marks (id, state, val)
    WHERE pz_events.event_id = marks.id AND pz_events.state = 0;
END
$function$
