-- ptt-relay schema 6 (SQLite): `top:N` leaderboards (DESIGN.md,
-- "Delivery options, channel kinds and investor words").
--
-- One message per destination, subscription (board and words) and Taipei
-- day; it is
-- edited while the day runs and once more, as final, after midnight.

CREATE TABLE leaderboards (
    platform    TEXT NOT NULL,
    chat        TEXT NOT NULL,
    thread      TEXT NOT NULL,
    -- The subscription's canonical words, `top:N` among them.
    words       TEXT NOT NULL,
    -- YYYY-MM-DD, +08:00.
    day         TEXT NOT NULL,
    board       TEXT NOT NULL,
    -- Empty until the platform took the message.
    message_id  TEXT NOT NULL,
    -- What the message shows (its ranking's fingerprint).
    shown       TEXT NOT NULL,
    edited_at   INTEGER NOT NULL,
    final       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (platform, chat, thread, board, words, day)
);
CREATE INDEX leaderboards_open ON leaderboards (final, day);
