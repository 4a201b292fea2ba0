//! TWSE and TPEx listed companies and ETFs, and finding them in a post's
//! title and excerpt (the `stock:` and `sector:` words, the digest's
//! `stocks`).
//!
//! The table is `listed.csv` beside this file (source, licence and refresh
//! command in its header: `scripts/refresh-listed.py` writes it from the
//! `twstock` package), embedded in the binary and parsed once.
//!
//! **Mentions.** A company is mentioned by its code as a separate number
//! (no letter or digit next to it, not a date, decimal or range — `2330`,
//! `(2330)`, `台積電2330` but not `12330`, `2025年`, `2025/11/30`, `1.2330`)
//! or by its short name (NFKC, case-insensitive, `臺` read as `台`; a `-KY`
//! name also without `-KY`). Names are matched leftmost-longest, so
//! `聯發科` is 聯發科 and not 聯發. Short names that are everyday words or
//! names of other things (`統一`, `大同`, `世界`, `三星`, listed in
//! `common-names.txt`, each measured on the reference pages) are matched
//! by their code only.

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

/// The embedded table: `#` comment lines, a header, then
/// `code,name,market,group` rows (no quoting: no field holds a comma).
pub const LISTED_CSV: &str = include_str!("listed.csv");

/// Short names matched by code only: one a line, `#` comments.
const COMMON_NAMES: &str = include_str!("common-names.txt");

/// Most companies a digest lists (DESIGN.md: title first, then excerpt).
pub const MAX_IN_DIGEST: usize = 5;

/// How many closest matches a refusal suggests.
const SUGGESTIONS: usize = 5;

/// One listed company or ETF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Company {
    /// The exchange code (`2330`; ETFs may end in a letter, `00631L`).
    pub code: &'static str,
    /// The short name (`台積電`).
    pub name: &'static str,
    /// `上市` (TWSE), `上市臺灣創新板` (TWSE innovation board) or `上櫃` (TPEx).
    pub market: &'static str,
    /// The industry group (`半導體業`); empty for ETFs.
    pub group: &'static str,
}

struct Table {
    companies: Vec<Company>,
    /// Normalised code → index.
    by_code: HashMap<String, usize>,
    /// Normalised name → index (every name, common words too).
    by_name: HashMap<String, usize>,
    /// First character → (name characters, index), longest first: the
    /// names matched in text (no common words).
    names_by_first: HashMap<char, Vec<(Vec<char>, usize)>>,
    groups: BTreeSet<&'static str>,
}

static TABLE: LazyLock<Table> = LazyLock::new(|| Table::parse(LISTED_CSV, COMMON_NAMES));

/// NFKC, lower case, `臺` as `台`: how names, codes and text are compared.
fn fold(s: &str) -> String {
    s.nfkc()
        .flat_map(char::to_lowercase)
        .map(|c| if c == '臺' { '台' } else { c })
        .collect()
}

impl Table {
    fn parse(csv: &'static str, common: &str) -> Table {
        let common: BTreeSet<String> = common
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(str::split_whitespace)
            .map(fold)
            .collect();
        let mut t = Table {
            companies: Vec::new(),
            by_code: HashMap::new(),
            by_name: HashMap::new(),
            names_by_first: HashMap::new(),
            groups: BTreeSet::new(),
        };
        let rows = csv
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .skip(1);
        for line in rows {
            let mut f = line.split(',');
            let (Some(code), Some(name), Some(market), Some(group), None) =
                (f.next(), f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            let i = t.companies.len();
            t.companies.push(Company {
                code,
                name,
                market,
                group,
            });
            t.by_code.insert(fold(code), i);
            if !group.is_empty() {
                t.groups.insert(group);
            }
            // `康友-KY` and `國巨*` are also written `康友`, `國巨`.
            let full = fold(name);
            let short = full
                .strip_suffix("-ky")
                .or_else(|| full.strip_suffix('*'))
                .map(str::to_owned);
            for n in std::iter::once(full).chain(short) {
                t.by_name.entry(n.clone()).or_insert(i);
                let chars: Vec<char> = n.chars().collect();
                // One character is never a name in text (DESIGN.md).
                if chars.len() >= 2 && !common.contains(&n) {
                    t.names_by_first
                        .entry(chars[0])
                        .or_default()
                        .push((chars, i));
                }
            }
        }
        for v in t.names_by_first.values_mut() {
            v.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        }
        t
    }
}

/// Every listed company and ETF of the embedded table.
pub fn all() -> &'static [Company] {
    &TABLE.companies
}

/// The company with this code or short name (NFKC, case-insensitive, `臺`
/// as `台`; a `-KY` or `*` name also without it), or the closest codes and names
/// (at most five, `2330 台積電`) when there is none.
pub fn lookup(word: &str) -> Result<&'static Company, Vec<String>> {
    let t = &*TABLE;
    let w = fold(word.trim());
    if let Some(&i) = t.by_code.get(&w).or_else(|| t.by_name.get(&w)) {
        return Ok(&t.companies[i]);
    }
    let is_code = w.chars().next().is_some_and(|c| c.is_ascii_digit());
    // Names holding the word (or held by it) first, then by edit distance,
    // then codes by how far apart they are as numbers (2339: 2338, 2337…).
    let number = |s: &str| -> u64 {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or(0)
    };
    let mut scored: Vec<(bool, usize, u64, &Company)> = t
        .companies
        .iter()
        .map(|c| {
            let key = fold(if is_code { c.code } else { c.name });
            let near = !is_code && (key.contains(&w) || w.contains(&key));
            let apart = if is_code {
                number(&key).abs_diff(number(&w))
            } else {
                0
            };
            (!near, strsim::levenshtein(&w, &key), apart, c)
        })
        .collect();
    scored.sort_by_key(|(far, d, apart, c)| (*far, *d, *apart, c.code));
    Err(scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, _, _, c)| format!("{} {}", c.code, c.name))
        .collect())
}

/// The industry group of this name (`半導體業`; NFKC, `臺` as `台`), or the
/// closest groups (at most five) when there is none.
pub fn group(word: &str) -> Result<&'static str, Vec<String>> {
    let t = &*TABLE;
    let w = fold(word.trim());
    if let Some(g) = t.groups.iter().find(|g| fold(g) == w) {
        return Ok(g);
    }
    let mut scored: Vec<(usize, &str)> = t
        .groups
        .iter()
        .map(|g| (strsim::levenshtein(&w, &fold(g)), *g))
        .collect();
    scored.sort();
    Err(scored
        .into_iter()
        .take(SUGGESTIONS)
        .map(|(_, g)| g.to_owned())
        .collect())
}

/// The companies `text` mentions, in the order they first appear, each
/// once (see the module doc for what counts).
pub fn mentions(text: &str) -> Vec<&'static Company> {
    let t = &*TABLE;
    let chars: Vec<char> = fold(text).chars().collect();
    let mut out: Vec<&'static Company> = Vec::new();
    let mut push = |i: usize| {
        let c = &t.companies[i];
        if !out.iter().any(|o| o.code == c.code) {
            out.push(c);
        }
    };
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c.is_ascii_alphanumeric() {
            let end = chars[at..]
                .iter()
                .position(|c| !c.is_ascii_alphanumeric())
                .map_or(chars.len(), |n| at + n);
            let run: String = chars[at..end].iter().collect();
            if let Some(&i) = t.by_code.get(&run)
                && separate_number(&chars, at, end)
            {
                push(i);
            }
            at = end;
            continue;
        }
        let hit = t.names_by_first.get(&c).and_then(|names| {
            names
                .iter()
                .find(|(n, _)| chars[at..].starts_with(n))
                .map(|(n, i)| (n.len(), *i))
        });
        match hit {
            Some((len, i)) => {
                push(i);
                at += len;
            }
            None => at += 1,
        }
    }
    out
}

/// Whether the code in `chars[start..end]` stands alone as a number: not a
/// decimal, a thousands group, a date or a range (`.`, `,`, `/`, `-`, `:`
/// next to it, or `~` before), not a percentage, and not a year, amount or
/// count (`年`, `元`, `億`, `萬`, `張`, `點`, … after it).
fn separate_number(chars: &[char], start: usize, end: usize) -> bool {
    const JOINERS: &[char] = &['.', ',', '/', '-', ':', '~', '_'];
    const UNITS: &[char] = &[
        '%', '年', '元', '億', '萬', '張', '點', '名', '人', '件', '輛', '倍', '家', '坪', '戶',
        '噸', '度', '千', '百', '週',
    ];
    let before = start.checked_sub(1).map(|i| chars[i]);
    let after = chars.get(end).copied();
    !before.is_some_and(|c| JOINERS.contains(&c))
        && !after.is_some_and(|c| JOINERS.contains(&c) || UNITS.contains(&c))
}

/// The companies a post mentions: its title's first, then its excerpt's,
/// each once, all of them (the digest keeps [`MAX_IN_DIGEST`]).
pub fn mentioned(title: &str, excerpt: Option<&str>) -> Vec<&'static Company> {
    let mut out = mentions(title);
    for c in mentions(excerpt.unwrap_or("")) {
        if !out.iter().any(|o| o.code == c.code) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<&'static str> {
        mentions(text).iter().map(|c| c.code).collect()
    }

    #[test]
    fn the_table_parses_whole() {
        let rows = LISTED_CSV.lines().filter(|l| !l.starts_with('#')).count() - 1;
        assert_eq!(all().len(), rows);
        assert!(rows > 2000, "{rows}");
        assert!(LISTED_CSV.contains("# Source: twstock"));
        assert!(LISTED_CSV.contains("# Licence: MIT"));
        let tsmc = lookup("2330").unwrap();
        assert_eq!((tsmc.name, tsmc.group), ("台積電", "半導體業"));
        assert_eq!(lookup("台積電").unwrap().code, "2330");
        assert_eq!(lookup("0050").unwrap().group, "");
    }

    #[test]
    fn codes_count_only_as_separate_numbers() {
        assert_eq!(codes("台積電(2330)法說"), ["2330"]);
        assert_eq!(codes("2330 台積電"), ["2330"]);
        for text in [
            "12330",
            "23301",
            "A2330",
            "2025年營收",
            "2025/11/30",
            "1.2330",
            "1,2330",
            "2330元",
            "2330%",
        ] {
            assert!(codes(text).is_empty(), "{text}: {:?}", codes(text));
        }
    }

    #[test]
    fn names_are_leftmost_longest_and_common_words_need_the_code() {
        assert_eq!(codes("聯發科與鴻海"), ["2454", "2317"]);
        assert_eq!(codes("臺積電"), ["2330"]);
        assert!(codes("統一發票 大同小異 世界各國").is_empty());
        assert_eq!(codes("統一(1216)"), ["1216"]);
        assert_eq!(lookup("統一").unwrap().code, "1216");
    }

    #[test]
    fn every_common_name_is_a_listed_name() {
        for name in COMMON_NAMES
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(str::split_whitespace)
        {
            assert!(lookup(name).is_ok(), "{name} is not in listed.csv");
        }
    }

    #[test]
    fn unknown_words_get_the_closest_matches() {
        let near = lookup("2331x").unwrap_err();
        assert_eq!(near.len(), 5);
        let near = lookup("台積").unwrap_err();
        assert!(near.iter().any(|s| s == "2330 台積電"), "{near:?}");
        assert_eq!(group("半導體業"), Ok("半導體業"));
        let near = group("半導體").unwrap_err();
        assert_eq!(near.first().map(String::as_str), Some("半導體業"));
    }
}
