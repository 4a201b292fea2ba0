-- ptt-relay schema 3 (SQLite): fenced outbox claims. A row handed to a
-- sender carries a claim token and an expiry; marking it sent, failed or
-- rescheduled takes effect only with the token that claimed it, so a
-- sender that lost its claim (its process stalled past the store lease and
-- another took over) cannot overwrite the new holder's outcome. Additive
-- only. Times are Unix seconds.

ALTER TABLE outbox ADD COLUMN claim_token TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
