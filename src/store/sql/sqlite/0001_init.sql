-- ptt-relay schema 1 (SQLite). Times are Unix seconds.

CREATE TABLE boards (
    board          TEXT PRIMARY KEY,
    mark_id        TEXT,              -- newest post id seen (high-water mark)
    last_poll_at   INTEGER,           -- last poll attempt
    last_ok_at     INTEGER            -- last successful poll
);

CREATE TABLE seen_posts (
    board    TEXT NOT NULL,
    post_id  TEXT NOT NULL,
    seen_at  INTEGER NOT NULL,
    PRIMARY KEY (board, post_id)
);
CREATE INDEX seen_posts_seen_at ON seen_posts (seen_at);

CREATE TABLE digests (
    board     TEXT NOT NULL,
    post_id   TEXT NOT NULL,
    epoch     INTEGER NOT NULL,       -- the post id's epoch, for ordering
    digest    TEXT NOT NULL,          -- digest JSON
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (board, post_id)
);
CREATE INDEX digests_seen_at ON digests (seen_at);
CREATE INDEX digests_epoch ON digests (epoch);

CREATE TABLE subscriptions (
    platform    TEXT NOT NULL,
    chat        TEXT NOT NULL,
    thread      TEXT NOT NULL DEFAULT '',
    local_id    INTEGER NOT NULL,     -- small id, unique within the chat
    board       TEXT NOT NULL,
    filter      TEXT NOT NULL,        -- canonical filter words
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (platform, chat, local_id),
    UNIQUE (platform, chat, thread, board, filter)
);
CREATE INDEX subscriptions_board ON subscriptions (board);

CREATE TABLE paused_chats (
    platform   TEXT NOT NULL,
    chat       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    paused_at  INTEGER NOT NULL,
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
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    board            TEXT NOT NULL,
    post_id          TEXT NOT NULL,
    platform         TEXT NOT NULL,
    chat             TEXT NOT NULL,
    thread           TEXT NOT NULL DEFAULT '',
    digest           TEXT NOT NULL,   -- digest JSON, rendered at send time
    state            TEXT NOT NULL DEFAULT 'pending', -- pending, sent, rejected, expired
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    done_at          INTEGER,
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
    sent_at     INTEGER NOT NULL,
    shown       TEXT,                  -- tally JSON the message shows
    edit_due    INTEGER NOT NULL DEFAULT 0,
    deleted     INTEGER NOT NULL DEFAULT 0,  -- marked as deleted on PTT
    gone        INTEGER NOT NULL DEFAULT 0,  -- message no longer editable
    PRIMARY KEY (post_id, platform, chat, thread)
);
CREATE INDEX sent_messages_edit_due ON sent_messages (platform, edit_due);

-- Posts whose reaction tally is kept live: relayed posts, and candidates of
-- push:N subscriptions (threshold = the smallest such N).
CREATE TABLE tracked_posts (
    board          TEXT NOT NULL,
    post_id        TEXT NOT NULL,
    relayed        INTEGER NOT NULL DEFAULT 0,
    threshold      INTEGER,
    marker         TEXT NOT NULL DEFAULT '',
    tally          TEXT,               -- last counted tally JSON
    started_at     INTEGER NOT NULL,
    until_at       INTEGER NOT NULL,
    next_check_at  INTEGER NOT NULL,
    step_secs      INTEGER NOT NULL,
    fetch_due      INTEGER NOT NULL DEFAULT 0,
    deleted        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (board, post_id)
);
CREATE INDEX tracked_posts_due ON tracked_posts (next_check_at);
CREATE INDEX sent_messages_sent_at ON sent_messages (sent_at);

CREATE TABLE lease (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
