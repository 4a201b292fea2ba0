-- ptt-relay schema 4 (PostgreSQL): a post's digest is stored once, in
-- `digests`; outbox rows refer to it by (board, post_id) and this release
-- writes no copy into outbox.digest (DESIGN.md, "Bounds").
--
-- Rolling upgrades (see 0001_init.sql): additive only. outbox.digest stays,
-- now nullable; copies already there stay until their rows are pruned, so a
-- replica of the previous release still delivers every row queued before the
-- leader was upgraded. A row queued by this release has no copy: a previous
-- replica that picks it fails that claim (its transaction rolls back, it
-- logs the error) and a replica of this release sends the row — nothing is
-- lost or sent twice while the replicas are replaced one by one. A later
-- release drops the column.
--
-- Without loss: a post whose digest is only in outbox rows gets it back in
-- `digests` (none should: digests outlive pending rows). The epoch is read
-- from the post id `M.<epoch>.A.<hex>`.

ALTER TABLE outbox ALTER COLUMN digest DROP NOT NULL;

INSERT INTO digests (board, post_id, epoch, digest, seen_at)
    SELECT DISTINCT ON (board, post_id)
           board, post_id,
           CASE WHEN split_part(post_id, '.', 2) ~ '^[0-9]{1,18}$'
                THEN split_part(post_id, '.', 2)::BIGINT ELSE 0 END,
           digest, created_at
    FROM outbox
    WHERE digest IS NOT NULL
    ORDER BY board, post_id, id
ON CONFLICT (board, post_id) DO NOTHING;
