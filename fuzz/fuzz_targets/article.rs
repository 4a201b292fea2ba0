//! The article parser: never panics; the tally adds up; the body is trimmed
//! as documented; and the digest built from the page renders within the
//! Telegram and Discord limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ptt_relay::digest::Digest;
use ptt_relay::ptt::{Board, PostId, PushKind, parse_article};
use ptt_relay_fuzz::{DELETED_MARK, assert_discord, assert_telegram};

fuzz_target!(|data: &[u8]| {
    let html = String::from_utf8_lossy(data);
    let Some(article) = parse_article(&html) else {
        return;
    };

    let t = article.tally();
    let count = |k: PushKind| article.pushes.iter().filter(|p| p.kind == k).count();
    assert_eq!(t.push as usize, count(PushKind::Push));
    assert_eq!(t.boo as usize, count(PushKind::Boo));
    assert_eq!(t.neutral as usize, count(PushKind::Neutral));
    assert_eq!(t.total, t.push + t.boo + t.neutral);
    assert_eq!(t.total as usize, article.pushes.len());
    assert_eq!(t.net, i64::from(t.push) - i64::from(t.boo));

    for line in article.body.split('\n') {
        assert_eq!(line.trim_end(), line, "untrimmed body line");
    }
    if !article.body.is_empty() {
        let lines: Vec<&str> = article.body.split('\n').collect();
        assert!(!lines[0].is_empty(), "body starts with a blank line");
        assert!(
            !lines[lines.len() - 1].is_empty(),
            "body ends with a blank line"
        );
    }
    for edit in &article.edits {
        assert!(edit.starts_with('※'), "{edit:?}");
    }
    for p in &article.pushes {
        assert_eq!(p.user.trim(), p.user);
        assert_eq!(p.content.trim(), p.content);
    }
    for v in [&article.author, &article.board, &article.title]
        .into_iter()
        .flatten()
    {
        assert!(!v.trim().is_empty() && v.trim() == v, "{v:?}");
    }

    let (board, id) = match article.board_and_id() {
        Some((board, id)) => {
            assert_eq!(Board::parse(board.as_str()).as_ref(), Some(&board));
            assert_eq!(PostId::parse(id.as_str()).as_ref(), Some(&id));
            (board, id)
        }
        None => match (Board::parse("Stock"), PostId::parse("M.1769577959.A.C89")) {
            (Some(b), Some(i)) => (b, i),
            _ => unreachable!("constant board and id are valid"),
        },
    };
    let digest = Digest::from_article(&article, &board, &id);
    assert_eq!(digest.tally, t);
    if let Some(e) = &digest.excerpt {
        assert!(e.chars().count() <= 300, "excerpt too long");
    }
    assert_telegram(&digest, Some(DELETED_MARK));
    assert_discord(&digest, Some(DELETED_MARK), "discord:1");
});
