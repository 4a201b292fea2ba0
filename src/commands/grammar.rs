//! Parsing chat text into a platform-neutral [`Command`].

use unicode_normalization::UnicodeNormalization;

use crate::filter::{Filter, FilterError, MAX_WORDS, UnbalancedQuote, split_words};

/// Default and bounds of `/latest N`.
pub const LATEST_DEFAULT: u8 = 5;
/// Most digests `/latest` lists.
pub const LATEST_MAX: u8 = 20;

/// What `/unsubscribe` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A subscription id.
    Id(i64),
    /// Every subscription to a board.
    Board(String),
    /// Everything.
    All,
}

/// A command, the same on every platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/subscribe [BOARD] [WORD]…`
    Subscribe {
        /// The board as typed (checked against the polled boards later).
        board: Option<String>,
        /// The filter.
        filter: Filter,
    },
    /// `/unsubscribe ID|BOARD|all`
    Unsubscribe(Target),
    /// `/list`
    List,
    /// `/latest [N]`
    Latest(u8),
    /// `/status`
    Status,
    /// `/help`
    Help,
    /// `/start`
    Start,
}

/// Which command a parse error is about (to show its usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    /// `/subscribe`
    Subscribe,
    /// `/unsubscribe`
    Unsubscribe,
    /// `/latest`
    Latest,
    /// Any other or unknown command.
    Other,
}

/// Why a command could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not one of our commands.
    #[error("unknown command /{0}")]
    UnknownCommand(String),
    /// A `"` without its pair.
    #[error("unbalanced quote")]
    UnbalancedQuote,
    /// `/unsubscribe` without a target.
    #[error("missing target")]
    MissingTarget,
    /// A target that is no id, board or `all`.
    #[error("bad target {0:?}")]
    BadTarget(String),
    /// `/latest` with a bad count.
    #[error("bad count {0:?}")]
    BadCount(String),
    /// A command that takes no arguments got some.
    #[error("unexpected words")]
    UnexpectedWords,
    /// A filter word was refused.
    #[error(transparent)]
    Filter(#[from] FilterError),
}

impl From<UnbalancedQuote> for ParseError {
    fn from(_: UnbalancedQuote) -> Self {
        ParseError::UnbalancedQuote
    }
}

/// A parse error with the command it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// The command.
    pub command: CommandName,
    /// What was wrong.
    pub error: ParseError,
}

/// Parses a message. `Ok(None)`: not a command for this bot (no leading `/`,
/// or addressed to another bot as `/cmd@otherbot`). `bot_name` is this bot's
/// username, if the platform has one.
pub fn parse(text: &str, bot_name: Option<&str>) -> Result<Option<Command>, CommandError> {
    let text = text.trim_start();
    let Some(rest) = text.strip_prefix('/').or_else(|| text.strip_prefix('／')) else {
        return Ok(None);
    };
    let (head, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (name, addressee) = match head.split_once('@') {
        Some((n, a)) => (n, Some(a)),
        None => (head, None),
    };
    if let Some(a) = addressee
        && !bot_name.is_some_and(|b| b.eq_ignore_ascii_case(a))
    {
        return Ok(None);
    }
    let name = name.to_ascii_lowercase();
    let which = match name.as_str() {
        "subscribe" | "sub" => CommandName::Subscribe,
        "unsubscribe" | "unsub" => CommandName::Unsubscribe,
        "latest" => CommandName::Latest,
        _ => CommandName::Other,
    };
    let err = |error: ParseError| CommandError {
        command: which,
        error,
    };
    let args: String = args.nfkc().collect();
    let words = split_words(&args).map_err(|e| err(e.into()))?;
    let no_args = |cmd: Command| {
        if words.is_empty() {
            Ok(Some(cmd))
        } else {
            Err(err(ParseError::UnexpectedWords))
        }
    };
    match name.as_str() {
        "subscribe" | "sub" => {
            // A board, a `tag:` and MAX_WORDS more; Filter::parse decides.
            if words.len() > MAX_WORDS + 2 {
                return Err(err(ParseError::Filter(FilterError::TooManyWords)));
            }
            // The first word is a board when it can be a PTT board name;
            // anything else (`台積電`) is a filter word, refused with usage.
            let (board, rest) = match words.split_first() {
                Some((first, rest))
                    if !first.contains(':') && crate::ptt::Board::parse(first).is_some() =>
                {
                    (Some(first.clone()), rest)
                }
                _ => (None, &words[..]),
            };
            let filter = Filter::parse(rest).map_err(|e| err(e.into()))?;
            Ok(Some(Command::Subscribe { board, filter }))
        }
        "unsubscribe" | "unsub" => {
            let [target] = words.as_slice() else {
                return Err(err(if words.is_empty() {
                    ParseError::MissingTarget
                } else {
                    ParseError::UnexpectedWords
                }));
            };
            let t = target.trim_start_matches('#');
            let target = if t.eq_ignore_ascii_case("all") {
                Target::All
            } else if let Ok(id) = t.parse::<i64>() {
                Target::Id(id)
            } else if crate::ptt::Board::parse(t).is_some() {
                Target::Board(t.to_owned())
            } else {
                return Err(err(ParseError::BadTarget(target.clone())));
            };
            Ok(Some(Command::Unsubscribe(target)))
        }
        "latest" => match words.as_slice() {
            [] => Ok(Some(Command::Latest(LATEST_DEFAULT))),
            [n] => match n.parse::<u8>() {
                Ok(n) if (1..=LATEST_MAX).contains(&n) => Ok(Some(Command::Latest(n))),
                _ => Err(err(ParseError::BadCount(n.clone()))),
            },
            _ => Err(err(ParseError::UnexpectedWords)),
        },
        "list" => no_args(Command::List),
        "status" => no_args(Command::Status),
        "help" => Ok(Some(Command::Help)),
        "start" => Ok(Some(Command::Start)),
        _ => Err(err(ParseError::UnknownCommand(name))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Command {
        parse(s, Some("ptt_relay_bot")).unwrap().unwrap()
    }

    fn fails(s: &str) -> ParseError {
        parse(s, Some("ptt_relay_bot")).unwrap_err().error
    }

    #[test]
    fn subscribe_takes_an_optional_board_and_quoted_words() {
        match ok("/subscribe Stock kw:\"台積電 ADR\" not:盤中") {
            Command::Subscribe { board, filter } => {
                assert_eq!(board.as_deref(), Some("Stock"));
                assert_eq!(filter.kw, vec!["台積電 adr"]);
                assert_eq!(filter.not, vec!["盤中"]);
            }
            other => panic!("{other:?}"),
        }
        match ok("/subscribe@ptt_relay_bot tag：*") {
            Command::Subscribe { board, filter } => {
                assert_eq!(board, None);
                assert_eq!(filter.canonical(), "tag:*");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn commands_for_other_bots_and_plain_text_are_ignored() {
        assert_eq!(
            parse("/subscribe@otherbot", Some("ptt_relay_bot")),
            Ok(None)
        );
        assert_eq!(parse("hello", Some("ptt_relay_bot")), Ok(None));
    }

    #[test]
    fn other_commands() {
        assert_eq!(ok("/unsubscribe 3"), Command::Unsubscribe(Target::Id(3)));
        assert_eq!(ok("/unsubscribe #3"), Command::Unsubscribe(Target::Id(3)));
        assert_eq!(ok("/unsubscribe ALL"), Command::Unsubscribe(Target::All));
        assert_eq!(
            ok("/unsubscribe Stock"),
            Command::Unsubscribe(Target::Board("Stock".into()))
        );
        assert_eq!(ok("/latest"), Command::Latest(5));
        assert_eq!(ok("/latest 20"), Command::Latest(20));
        assert_eq!(ok("/LIST"), Command::List);
        assert_eq!(ok("/status"), Command::Status);
        assert_eq!(ok("/help"), Command::Help);
        assert_eq!(ok("/start"), Command::Start);
    }

    #[test]
    fn malformed_commands_say_what_is_wrong() {
        assert_eq!(fails("/unsubscribe"), ParseError::MissingTarget);
        assert_eq!(fails("/latest 21"), ParseError::BadCount("21".into()));
        assert_eq!(fails("/latest 0"), ParseError::BadCount("0".into()));
        assert_eq!(fails("/subscribe kw:\"open"), ParseError::UnbalancedQuote);
        assert_eq!(
            fails("/frobnicate"),
            ParseError::UnknownCommand("frobnicate".into())
        );
        assert_eq!(fails("/list extra"), ParseError::UnexpectedWords);
        assert!(matches!(
            fails("/subscribe Stock 台積電"),
            ParseError::Filter(_)
        ));
        assert_eq!(
            fails("/unsubscribe ../x").to_string(),
            "bad target \"../x\""
        );
    }
}
