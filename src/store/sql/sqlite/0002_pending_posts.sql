-- ptt-relay schema 2 (SQLite): posts found on an index page whose handling
-- is not finished (the article could not be read yet). They hold the
-- board's mark back and are retried with back-off until relayed, gone, or
-- given up on after relay.max_delivery_age_hours. Times are Unix seconds.

CREATE TABLE pending_posts (
    board            TEXT NOT NULL,
    post_id          TEXT NOT NULL,
    epoch            INTEGER NOT NULL,   -- the post id's epoch, for ordering
    title            TEXT NOT NULL,      -- the index row, to match and track
    author           TEXT NOT NULL,
    marker           TEXT NOT NULL DEFAULT '',
    first_seen_at    INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (board, post_id)
);
