//! `ptt-relay preview`: one article's digest, from a saved file (offline) or
//! a PTT article URL.

use std::path::{Path, PathBuf};

use crate::digest::{self, Digest};
use crate::ptt::{self, Board, PostId, article::board_and_id_from_url};

/// What `preview` was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A saved page.
    File(PathBuf),
    /// A PTT article URL, fetched as given.
    Url {
        /// The URL.
        url: url::Url,
        /// The board in its path.
        board: Board,
        /// The post id in its path.
        id: PostId,
    },
}

/// Why a preview failed.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// Neither an existing file nor a PTT article URL.
    #[error("not a PTT article URL or file: {0}")]
    NotPtt(String),
    /// The page has no article content (an index page, an error page…).
    #[error("{0} is not a PTT article page (no article content found)")]
    NotAnArticle(String),
    /// The page does not say which board and post it is.
    #[error("{0}: cannot tell which board and post this page is")]
    UnknownPost(String),
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        reason: String,
    },
}

/// Output formats of `preview`.
#[derive(Clone, Copy)]
pub enum Format {
    /// Exactly one JSON object (the digest JSON).
    Json,
    /// Exactly one console-sink block.
    Text,
    /// What a chat platform would send (`telegram`: the sendMessage
    /// `text`; `discord`: the create-message body as JSON), then a newline.
    Platform(&'static dyn crate::chat::Platform),
}

impl Format {
    /// Every format name: `text`, `json`, then each platform's id.
    pub fn names() -> Vec<&'static str> {
        let mut names = vec!["text", "json"];
        names.extend(
            crate::chat::registry::platforms()
                .iter()
                .map(|p| p.id().as_str()),
        );
        names
    }

    /// The format called `name`.
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "text" => Some(Format::Text),
            other => crate::chat::registry::find(other).map(Format::Platform),
        }
    }
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Format::Json => f.write_str("Json"),
            Format::Text => f.write_str("Text"),
            Format::Platform(p) => write!(f, "Platform({})", p.id()),
        }
    }
}

/// Decides whether `arg` is an existing file or a PTT article URL.
pub fn classify(arg: &str) -> Result<Source, PreviewError> {
    let path = Path::new(arg);
    if path.is_file() {
        return Ok(Source::File(path.to_owned()));
    }
    let not_ptt = || PreviewError::NotPtt(arg.to_owned());
    let url = url::Url::parse(arg).map_err(|_| not_ptt())?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(not_ptt());
    }
    let segments: Vec<&str> = url.path().trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["bbs", board, file] => {
            let board = Board::parse(board).ok_or_else(not_ptt)?;
            let id = file
                .strip_suffix(".html")
                .and_then(PostId::parse)
                .filter(|id| id.as_str().split('.').nth(1).is_some_and(|e| !e.is_empty()))
                .ok_or_else(not_ptt)?;
            Ok(Source::Url { url, board, id })
        }
        _ => Err(not_ptt()),
    }
}

/// Reads a saved page (no network, no runtime, no config).
pub fn read_file(path: &Path) -> Result<String, PreviewError> {
    let bytes = std::fs::read(path).map_err(|e| PreviewError::Io {
        path: path.display().to_string(),
        reason: e.kind().to_string(),
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Builds the digest of a page. The board and id come from
/// `<link rel=canonical>`, else the last `※ 文章網址` line, else `hint`
/// (the URL, or the file name plus the 看板 metaline).
pub fn digest_of(
    html: &str,
    name: &str,
    hint: Option<(Board, PostId)>,
) -> Result<Digest, PreviewError> {
    let article =
        ptt::parse_article(html).ok_or_else(|| PreviewError::NotAnArticle(name.to_owned()))?;
    let (board, id) = article
        .board_and_id()
        .or(hint)
        .or_else(|| {
            let id = PostId::from_path(name)?;
            let board = article.board.as_deref().and_then(Board::parse)?;
            Some((board, id))
        })
        .or_else(|| board_and_id_from_url(name))
        .ok_or_else(|| PreviewError::UnknownPost(name.to_owned()))?;
    Ok(Digest::from_article(&article, &board, &id))
}

/// Renders a digest in a preview format, ending with a newline.
pub fn render(d: &Digest, format: Format) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(d).unwrap_or_else(|_| "{}".into());
            s.push('\n');
            s
        }
        Format::Text => digest::text::render(d),
        Format::Platform(p) => {
            let mut s = p.preview(d);
            s.push('\n');
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ptt_article_urls_are_accepted() {
        match classify("https://www.ptt.cc/bbs/Stock/M.1769577959.A.C89.html").unwrap() {
            Source::Url { board, id, .. } => {
                assert_eq!(board.as_str(), "Stock");
                assert_eq!(id.as_str(), "M.1769577959.A.C89");
            }
            other => panic!("{other:?}"),
        }
        for bad in [
            "https://www.ptt.cc/bbs/Stock/index.html",
            "https://example.com/",
            "ftp://www.ptt.cc/bbs/Stock/M.1.A.1.html",
            "no-such-file.html",
            "https://www.ptt.cc/bbs/Stock/M.1769577959.A.XYZ.html",
        ] {
            let err = classify(bad).unwrap_err().to_string();
            assert!(
                err.starts_with("not a PTT article URL or file"),
                "{bad}: {err}"
            );
        }
    }
}
