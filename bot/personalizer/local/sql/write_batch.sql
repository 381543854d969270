-- The group-commit writer's batch on PostgreSQL, as one statement (bot/personalizer/writer.py): one round
-- trip and, in autocommit, one transaction, instead of a statement per kind of write and a COMMIT.
--
-- ranks: the new pz_events rows, as a JSON array of objects named by column (NULL for none). A taken
--   event ID raises unique_violation and nothing of the batch is kept; the writer then retries each write
--   on its own.
-- kinds, ids, vals, ats: the rewards ('reward', value) and activations ('activate'), sorted by event ID,
--   so that concurrent batches (and the trainer, which updates in the same order) lock their events in one
--   order and never deadlock. Rewards after their event's deadline change nothing but pz_rewards.
-- Returns the positions (from 1) of the rewards and activations whose event is not logged, and negated, those
-- of rewards refused because their event has slots (only slot rewards decide a multi-slot event).
--
-- plan_cache_mode: the service's connections plan every statement for its own parameters (bot/db.py), and
-- inside this function that planning was a quarter of PostgreSQL's CPU under load. Here PostgreSQL may keep
-- generic plans: each UPDATE finds one row by its primary key, and tests/learner/test_postgres.py checks that
-- a plan made while the log was nearly empty does not become a scan of the grown log.
CREATE OR REPLACE FUNCTION pz_write_batch(ranks jsonb, kinds text[], ids text[], vals float8[], ats float8[])
RETURNS int[]
LANGUAGE plpgsql
SET plan_cache_mode = auto
AS $function$
DECLARE
    missing int[] := '{}';
BEGIN
    IF ranks IS NOT NULL THEN
        INSERT INTO pz_events SELECT * FROM jsonb_populate_recordset(NULL::pz_events, ranks);
    END IF;
    FOR i IN 1 .. coalesce(cardinality(ids), 0) LOOP
        IF kinds[i] = 'reward' THEN  -- one statement: the update and, if it found the event, the reward
            WITH rewarded AS (
                UPDATE pz_events SET
                    first_reward = COALESCE(first_reward, CASE WHEN deadline >= ats[i] THEN vals[i] END),
                    reward_sum = reward_sum + CASE WHEN deadline >= ats[i] THEN vals[i] ELSE 0 END,
                    reward_count = reward_count + CASE WHEN deadline >= ats[i] THEN 1 ELSE 0 END
                WHERE event_id = ids[i] AND slots IS NULL
                RETURNING event_id
            )
            INSERT INTO pz_rewards (event_id, value, received_at) SELECT event_id, vals[i], ats[i] FROM rewarded;
            IF NOT FOUND THEN  -- only then: is it unknown, or an event with slots?
                PERFORM 1 FROM pz_events WHERE event_id = ids[i];
                missing := missing || (CASE WHEN FOUND THEN -i ELSE i END);
            END IF;
        ELSE
            UPDATE pz_events SET activated_at = COALESCE(activated_at, ats[i]) WHERE event_id = ids[i];
            IF NOT FOUND THEN
                missing := missing || i;
            END IF;
        END IF;
    END LOOP;
    RETURN missing;
END
$function$
