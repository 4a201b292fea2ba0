//! Validated identifiers: a board name and a post id.

use std::cmp::Ordering;
use std::fmt;

/// A PTT board name such as `Stock` or `Tech_Job`: 1–12 ASCII letters,
/// digits, `_` or `-`, starting with a letter or digit. Case is kept as PTT
/// spells it; comparisons that must ignore case use [`Board::eq_ignore_case`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Board(String);

impl Board {
    /// Parses a board name, or `None` when it cannot be a PTT board.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= 12
            && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        ok.then(|| Board(s.to_owned()))
    }

    /// The name as PTT spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Board names are case-insensitive on PTT (`stock` is `Stock`).
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A post id `M.<epoch>.A.<hex>` (e.g. `M.1769577959.A.C89`). Ordered by
/// epoch, then by the hex suffix's value, which is the order PTT created them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct PostId(String);

impl PostId {
    /// Parses `M.<digits>.A.<hex>`; anything else (including a non-hex
    /// suffix) is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("M.")?;
        let (epoch, hex) = rest.split_once(".A.")?;
        let ok = !epoch.is_empty()
            && epoch.len() <= 12
            && epoch.bytes().all(|b| b.is_ascii_digit())
            && !hex.is_empty()
            && hex.len() <= 8
            && hex.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| PostId(s.to_owned()))
    }

    /// Finds a post id inside a path or URL such as
    /// `/bbs/Stock/M.1769577959.A.C89.html`.
    pub fn from_path(path: &str) -> Option<Self> {
        let file = path.rsplit('/').next()?;
        let file = file.split(['?', '#']).next()?;
        PostId::parse(file.strip_suffix(".html").unwrap_or(file))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Seconds since the Unix epoch when the post was created.
    pub fn epoch(&self) -> i64 {
        self.parts().0
    }

    fn parts(&self) -> (i64, u32) {
        let rest = &self.0[2..];
        let (epoch, hex) = rest.split_once(".A.").unwrap_or((rest, "0"));
        (
            epoch.parse().unwrap_or(0),
            u32::from_str_radix(hex, 16).unwrap_or(0),
        )
    }
}

impl Ord for PostId {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts()
            .cmp(&other.parts())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for PostId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_ids_parse_and_order_by_epoch_then_hex() {
        let a = PostId::parse("M.1769577959.A.C89").unwrap();
        let b = PostId::parse("M.1769577959.A.D00").unwrap();
        let c = PostId::parse("M.1769577960.A.000").unwrap();
        assert!(a < b && b < c);
        assert_eq!(a.epoch(), 1_769_577_959);
        assert!(PostId::parse("M.1457622048.A.Z80").is_none());
        assert!(PostId::parse("M..A.C89").is_none());
        assert_eq!(
            PostId::from_path("/bbs/Stock/M.1769577959.A.C89.html"),
            Some(a)
        );
    }

    #[test]
    fn board_names_are_validated() {
        assert!(Board::parse("Stock").is_some());
        assert!(Board::parse("Tech_Job").is_some());
        assert!(Board::parse("e-shopping").is_some());
        assert!(Board::parse("").is_none());
        assert!(Board::parse("../etc").is_none());
        assert!(Board::parse("ThirteenChars").is_none());
        assert!(Board::parse("Stock").unwrap().eq_ignore_case("stock"));
    }
}
