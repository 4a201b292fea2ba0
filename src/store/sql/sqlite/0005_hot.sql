-- ptt-relay schema 5 (SQLite): `hot:N/M` subscriptions (DESIGN.md,
-- "Delivery options, channel kinds and investor words").
--
-- A tracked post can be a candidate of a `hot:` subscription, and the
-- net-push ranges its index markers (and article counts) showed lately
-- are kept in `push_samples`: only while the marker changes, and only for
-- the last hour (the longest `hot:` window); `untrack_expired` forgets
-- older ones.

ALTER TABLE tracked_posts ADD COLUMN hot INTEGER NOT NULL DEFAULT 0;

CREATE TABLE push_samples (
    board    TEXT NOT NULL,
    post_id  TEXT NOT NULL,
    seen_at  INTEGER NOT NULL,
    -- The net push lay within [lo, hi] then (a marker's range; an article
    -- count gives lo = hi).
    lo       INTEGER NOT NULL,
    hi       INTEGER NOT NULL,
    PRIMARY KEY (board, post_id, seen_at)
);
CREATE INDEX push_samples_seen_at ON push_samples (seen_at);
