//! Parsing chat text into a platform-neutral [`Command`]: the shared half
//! (the command's name, its addressee, splitting the words). Each command's
//! own words are parsed in its file (`subscribe.rs`, `unsubscribe.rs`, …).

use unicode_normalization::UnicodeNormalization;

use super::help::Help;
use super::latest::Latest;
use super::list::List;
use super::status::Status;
use super::subscribe::Subscribe;
use super::top::Top;
use super::unsubscribe::Unsubscribe;
use crate::filter::{FilterError, UnbalancedQuote, split_words};

pub use super::latest::{LATEST_DEFAULT, LATEST_MAX};
pub use super::unsubscribe::Target;

/// A command, the same on every platform: each holds its own file's
/// struct, parsed and applied there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/subscribe [BOARD] [WORD]…`
    Subscribe(Subscribe),
    /// `/unsubscribe ID|BOARD|all`
    Unsubscribe(Unsubscribe),
    /// `/list`
    List(List),
    /// `/latest [N]`
    Latest(Latest),
    /// `/top [BOARD] [N]`
    Top(Top),
    /// `/status`
    Status(Status),
    /// `/help` and `/start`
    Help(Help),
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
    /// `/top`
    Top,
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
    /// `/top` with a bad count.
    #[error("bad count {0:?}")]
    BadTopCount(String),
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
        "top" => CommandName::Top,
        _ => CommandName::Other,
    };
    let err = |error: ParseError| CommandError {
        command: which,
        error,
    };
    let args: String = args.nfkc().collect();
    let words = split_words(&args).map_err(|e| err(e.into()))?;
    let parsed = match name.as_str() {
        "subscribe" | "sub" => Subscribe::parse(&words).map(Command::Subscribe),
        "unsubscribe" | "unsub" => Unsubscribe::parse(&words).map(Command::Unsubscribe),
        "list" => List::parse(&words).map(Command::List),
        "latest" => Latest::parse(&words).map(Command::Latest),
        "top" => Top::parse(&words).map(Command::Top),
        "status" => Status::parse(&words).map(Command::Status),
        "help" | "start" => Help::parse(&words).map(Command::Help),
        _ => Err(ParseError::UnknownCommand(name)),
    };
    parsed.map(Some).map_err(err)
}

/// A command that takes no words got some.
pub(super) fn no_words<T>(words: &[String], cmd: T) -> Result<T, ParseError> {
    if words.is_empty() {
        Ok(cmd)
    } else {
        Err(ParseError::UnexpectedWords)
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
            Command::Subscribe(Subscribe { board, filter }) => {
                assert_eq!(board.as_deref(), Some("Stock"));
                assert_eq!(filter.kw, vec!["台積電 adr"]);
                assert_eq!(filter.not, vec!["盤中"]);
            }
            other => panic!("{other:?}"),
        }
        match ok("/subscribe@ptt_relay_bot tag：*") {
            Command::Subscribe(Subscribe { board, filter }) => {
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
        let unsub = |target| Command::Unsubscribe(Unsubscribe { target });
        assert_eq!(ok("/unsubscribe 3"), unsub(Target::Id(3)));
        assert_eq!(ok("/unsubscribe #3"), unsub(Target::Id(3)));
        assert_eq!(ok("/unsubscribe ALL"), unsub(Target::All));
        assert_eq!(
            ok("/unsubscribe Stock"),
            unsub(Target::Board(crate::ptt::Board::parse("Stock").unwrap()))
        );
        assert_eq!(ok("/latest"), Command::Latest(Latest { n: 5 }));
        assert_eq!(ok("/latest 20"), Command::Latest(Latest { n: 20 }));
        assert_eq!(ok("/LIST"), Command::List(List));
        assert_eq!(ok("/status"), Command::Status(Status));
        assert_eq!(ok("/help"), Command::Help(Help));
        assert_eq!(ok("/start"), Command::Help(Help));
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
