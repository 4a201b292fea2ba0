-- ptt-relay schema 1 (PostgreSQL). Times are Unix seconds (BIGINT).
--
-- ROLLING UPGRADES. Replicas are upgraded one at a time, so for a while the
-- previous release runs against the schema this release migrated to. Every
-- migration must therefore keep working with the previous release's queries:
-- additive changes only (new tables, new nullable or defaulted columns, new
-- indexes). Never drop, rename or retype a column or table in the same
-- release that stops using it; remove it a release later, once no running
-- replica reads it. A replica that finds a schema newer than it knows
-- refuses to start (TooNew), so downgrades need a restore.
--
-- Same tables and meaning as the SQLite schema (sql/sqlite/0001_init.sql),
-- with PostgreSQL types, plus the outbox claim columns that let every replica
-- send, and the leader row. Ordered text columns are compared with
-- COLLATE "C" in queries, matching SQLite's byte order.
--
-- Digests are kept as JSON text, not JSONB: they round-trip byte for byte
-- and JSONB would refuse a "\u0000" escape that a PTT string could carry
-- (query them with digest::jsonb). Tallies are JSONB, compared by value.

CREATE TABLE boards (
    board          TEXT PRIMARY KEY,
    mark_id        TEXT,              -- newest post id seen (high-water mark)
    last_poll_at   BIGINT,            -- last poll attempt
    last_ok_at     BIGINT             -- last successful poll
);

CREATE TABLE seen_posts (
    board    TEXT NOT NULL,
    post_id  TEXT NOT NULL,
    seen_at  BIGINT NOT NULL,
    PRIMARY KEY (board, post_id)
);
CREATE INDEX seen_posts_seen_at ON seen_posts (seen_at);

CREATE TABLE digests (
    board     TEXT NOT NULL,
    post_id   TEXT NOT NULL,
    epoch     BIGINT NOT NULL,        -- the post id's epoch, for ordering
    digest    TEXT NOT NULL,          -- digest JSON (see below)
    seen_at   BIGINT NOT NULL,
    PRIMARY KEY (board, post_id)
);
CREATE INDEX digests_seen_at ON digests (seen_at);
CREATE INDEX digests_epoch ON digests (epoch);

CREATE TABLE subscriptions (
    platform    TEXT NOT NULL,
    chat        TEXT NOT NULL,
    thread      TEXT NOT NULL DEFAULT '',
    local_id    BIGINT NOT NULL,      -- small id, unique within the chat
    board       TEXT NOT NULL,
    filter      TEXT NOT NULL,        -- canonical filter words
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (platform, chat, local_id),
    UNIQUE (platform, chat, thread, board, filter)
);
CREATE INDEX subscriptions_board ON subscriptions (lower(board));

CREATE TABLE paused_chats (
    platform   TEXT NOT NULL,
    chat       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    paused_at  BIGINT NOT NULL,
    PRIMARY KEY (platform, chat)
);

-- Which group (a Discord guild) a chat belongs to, to pause and resume
-- all of a guild's channels at once.
CREATE TABLE chat_groups (
    platform  TEXT NOT NULL,
    chat      TEXT NOT NULL,
    grp       TEXT NOT NULL,
    PRIMARY KEY (platform, chat)
);
CREATE INDEX chat_groups_grp ON chat_groups (platform, grp);

CREATE TABLE outbox (
    id               BIGSERIAL PRIMARY KEY,
    board            TEXT NOT NULL,
    post_id          TEXT NOT NULL,
    platform         TEXT NOT NULL,
    chat             TEXT NOT NULL,
    thread           TEXT NOT NULL DEFAULT '',
    digest           TEXT NOT NULL,   -- digest JSON, rendered at send time
    state            TEXT NOT NULL DEFAULT 'pending', -- pending, sent, rejected, expired
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    done_at          BIGINT,
    -- Which replica is sending the row, and until when the claim holds (a
    -- replica that dies leaves a claim that others ignore once expired).
    claimed_by       TEXT,
    claimed_until    BIGINT,
    UNIQUE (post_id, platform, chat, thread)
);
CREATE INDEX outbox_pending ON outbox (state, platform, chat, thread, id);
CREATE INDEX outbox_done_at ON outbox (done_at);

CREATE TABLE sent_messages (
    board       TEXT NOT NULL,
    post_id     TEXT NOT NULL,
    platform    TEXT NOT NULL,
    chat        TEXT NOT NULL,
    thread      TEXT NOT NULL DEFAULT '',
    message_id  TEXT NOT NULL,
    sent_at     BIGINT NOT NULL,
    shown       JSONB,                 -- the tally the message shows
    edit_due    BOOLEAN NOT NULL DEFAULT FALSE,
    deleted     BOOLEAN NOT NULL DEFAULT FALSE,  -- marked as deleted on PTT
    gone        BOOLEAN NOT NULL DEFAULT FALSE,  -- message no longer editable
    PRIMARY KEY (post_id, platform, chat, thread)
);
CREATE INDEX sent_messages_edit_due ON sent_messages (platform, edit_due);
CREATE INDEX sent_messages_sent_at ON sent_messages (sent_at);

-- Posts whose reaction tally is kept live: relayed posts, and candidates of
-- push:N subscriptions (threshold = the smallest such N).
CREATE TABLE tracked_posts (
    board          TEXT NOT NULL,
    post_id        TEXT NOT NULL,
    relayed        BOOLEAN NOT NULL DEFAULT FALSE,
    threshold      BIGINT,
    marker         TEXT NOT NULL DEFAULT '',
    tally          JSONB,              -- last counted tally
    started_at     BIGINT NOT NULL,
    until_at       BIGINT NOT NULL,
    next_check_at  BIGINT NOT NULL,
    step_secs      BIGINT NOT NULL,
    fetch_due      BOOLEAN NOT NULL DEFAULT FALSE,
    deleted        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (board, post_id)
);
CREATE INDEX tracked_posts_due ON tracked_posts (next_check_at);

-- Who leads (holds the leadership advisory lock), for followers' /status.
-- The lock decides; this row only reports.
CREATE TABLE leader (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    replica_id  TEXT NOT NULL,
    host        TEXT NOT NULL,
    since       BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL
);
