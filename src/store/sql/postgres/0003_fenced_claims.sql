-- ptt-relay schema 3 (PostgreSQL): fenced outbox claims and the live
-- replica list. Additive only (see 0001_init.sql on rolling upgrades): a
-- replica of the previous release keeps claiming with claimed_by and
-- claimed_until and ignores the token. Times are Unix seconds.
--
-- claim_token: a random token written with every claim (due_rows) and
-- renewal; marking the row sent, failed or rescheduled takes effect only
-- with the token that claimed it, so a replica whose claim expired while
-- it waited cannot overwrite the outcome of the replica that took the row.
ALTER TABLE outbox ADD COLUMN claim_token TEXT;

-- Replicas alive, for sharing the platforms' overall limits: each replica
-- beats every second or so; a replica not seen for a few seconds no longer
-- counts. The overall limits are divided by the number of live replicas.
CREATE TABLE replicas (
    replica_id  TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL
);
