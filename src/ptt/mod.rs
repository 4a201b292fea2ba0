//! Reading PTT's web front end: the HTTP client, the board index and article
//! parsers, and the extraction of the news template's fields.

pub mod article;
pub mod budget;
pub mod client;
pub mod ids;
pub mod index;
pub mod jitter;
pub mod links;
pub mod news;
pub mod time;
pub mod title;
pub mod transport;

pub use article::{Article, Push, PushKind, Tally, parse_article};
pub use ids::{Board, PostId};
pub use index::{IndexPage, IndexRow, PushMarker, parse_index};
pub use links::PageLink;
pub use news::{NewsFields, extract_news, extract_news_linked};
pub use title::TitleInfo;

/// The host every user-facing link points at, whatever `ptt.base_url` says.
pub const PUBLIC_BASE: &str = "https://www.ptt.cc";

/// The public URL of a post: `https://www.ptt.cc/bbs/{board}/{id}.html`.
pub fn post_url(board: &Board, id: &PostId) -> String {
    format!("{PUBLIC_BASE}/bbs/{}/{}.html", board.as_str(), id.as_str())
}

/// Whether a page arrived whole: PTT's pages (index and article alike) end
/// with `</html>`, so one cut off in transit, even with a 200 status, is
/// told apart from a page that is merely short.
pub fn page_is_complete(html: &str) -> bool {
    let end = html.trim_end();
    end.len() >= 7
        && end.is_char_boundary(end.len() - 7)
        && end[end.len() - 7..].eq_ignore_ascii_case("</html>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cut_off_are_told_apart() {
        assert!(page_is_complete("<html><body>x</body></html>\n"));
        assert!(page_is_complete("<HTML></HTML>"));
        assert!(!page_is_complete(
            "<html><body><div class=\"r-list-container\">"
        ));
        assert!(!page_is_complete(""));
        assert!(!page_is_complete("文章</htm"));
    }
}
