-- ptt-relay schema 4 (SQLite): a post's digest is stored once, in
-- `digests`; outbox rows refer to it by (board, post_id) instead of each
-- carrying a copy (DESIGN.md, "Bounds": one post to 1,000 chats used to
-- store its digest 1,001 times). One process per SQLite file, so no
-- rolling-upgrade concerns here (see the PostgreSQL migration).
--
-- Without loss: a row whose post has no kept digest (none should: digests
-- outlive pending rows) gives its copy to `digests` before the column goes.
-- The epoch is read from the post id `M.<epoch>.A.<hex>`.

INSERT OR IGNORE INTO digests (board, post_id, epoch, digest, seen_at)
    SELECT board, post_id,
           CAST(substr(post_id, 3, instr(substr(post_id, 3), '.') - 1) AS INTEGER),
           digest, MIN(created_at)
    FROM outbox
    GROUP BY board, post_id;

ALTER TABLE outbox DROP COLUMN digest;
