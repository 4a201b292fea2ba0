//! The `/ptt` slash command: its definition (subcommands, options,
//! descriptions in zh-TW and en-US), and the mapping of an interaction's
//! options onto the platform-neutral [`Command`], validated by the same
//! parser every platform uses so errors and replies are identical.

use serenity::all::{
    ChannelType, CommandDataOption, CommandDataOptionValue, CommandOptionType, Permissions,
};
use serenity::builder::{CreateCommand, CreateCommandOption};
use unicode_normalization::UnicodeNormalization;

use crate::commands::grammar::{CommandName, LATEST_MAX, ParseError, parse as parse_text};
use crate::commands::i18n::{EN, OptionTexts, Texts, ZH_TW};
use crate::commands::top::{TOP_MAX, TOP_MIN};
use crate::commands::{Command, CommandError, Help, Latest, List, Status, Subscribe, Top};
use crate::filter::{Filter, Preview, split_words};

/// The one slash command.
pub const COMMAND_NAME: &str = "ptt";

/// Who sees `/ptt` by default. Discord applies default member permissions
/// to a whole command, so with one command this also hides `list`,
/// `latest`, `status` and `help` from members without Manage Channels
/// until a server admin allows `/ptt` for everyone (Server Settings →
/// Integrations); the handler checks subscribe/unsubscribe again anyway.
pub const DEFAULT_MEMBER_PERMISSIONS: Permissions = Permissions::MANAGE_CHANNELS;

/// Discord's locales we describe the command in.
const LOCALES: [(&str, &Texts); 2] = [("zh-TW", &ZH_TW), ("en-US", &EN)];

/// The subcommands, in the order of `Texts::menu`.
const SUBCOMMANDS: [&str; 7] = [
    "subscribe",
    "unsubscribe",
    "list",
    "latest",
    "top",
    "status",
    "help",
];

fn option(
    kind: CommandOptionType,
    name: &str,
    describe: fn(&OptionTexts) -> &'static str,
) -> CreateCommandOption {
    let mut o = CreateCommandOption::new(kind, name, describe(&EN.options));
    for (locale, texts) in LOCALES {
        o = o.description_localized(locale, describe(&texts.options));
    }
    o
}

fn subcommand(index: usize) -> CreateCommandOption {
    let name = SUBCOMMANDS[index];
    let mut sub = CreateCommandOption::new(CommandOptionType::SubCommand, name, EN.menu[index]);
    for (locale, texts) in LOCALES {
        sub = sub.description_localized(locale, texts.menu[index]);
    }
    match name {
        "subscribe" => sub
            .add_sub_option(option(CommandOptionType::String, "board", |t| t.board).max_length(64))
            .add_sub_option(option(CommandOptionType::String, "tag", |t| t.tag).max_length(64))
            .add_sub_option(option(CommandOptionType::String, "kw", |t| t.kw).max_length(1000))
            .add_sub_option(option(CommandOptionType::String, "not", |t| t.not).max_length(1000))
            .add_sub_option(
                option(CommandOptionType::String, "author", |t| t.author).max_length(64),
            )
            .add_sub_option(
                option(CommandOptionType::Integer, "push", |t| t.push)
                    .min_int_value(1)
                    .max_int_value(u64::from(crate::filter::MAX_PUSH)),
            )
            .add_sub_option(option(CommandOptionType::Boolean, "re", |t| t.re))
            .add_sub_option(option(CommandOptionType::Boolean, "fw", |t| t.fw))
            .add_sub_option(option(CommandOptionType::Boolean, "silent", |t| t.silent))
            .add_sub_option(preview_choices(option(
                CommandOptionType::String,
                "preview",
                |t| t.preview,
            )))
            .add_sub_option(
                option(CommandOptionType::Channel, "channel", |t| t.channel).channel_types(vec![
                    ChannelType::Text,
                    ChannelType::News,
                    ChannelType::Forum,
                ]),
            )
            .add_sub_option(
                option(CommandOptionType::String, "stock", |t| t.stock).max_length(1000),
            )
            .add_sub_option(
                option(CommandOptionType::String, "sector", |t| t.sector).max_length(1000),
            )
            .add_sub_option(option(CommandOptionType::String, "hot", |t| t.hot).max_length(7))
            .add_sub_option(
                option(CommandOptionType::Integer, "top", |t| t.top)
                    .min_int_value(u64::from(TOP_MIN))
                    .max_int_value(u64::from(TOP_MAX)),
            ),
        "unsubscribe" => sub.add_sub_option(
            option(CommandOptionType::String, "target", |t| t.target)
                .required(true)
                .max_length(64),
        ),
        "latest" => sub.add_sub_option(
            option(CommandOptionType::Integer, "n", |t| t.n)
                .min_int_value(1)
                .max_int_value(u64::from(LATEST_MAX)),
        ),
        "top" => sub
            .add_sub_option(option(CommandOptionType::String, "board", |t| t.board).max_length(64))
            .add_sub_option(
                option(CommandOptionType::Integer, "n", |t| t.top_n)
                    .min_int_value(u64::from(TOP_MIN))
                    .max_int_value(u64::from(TOP_MAX)),
            ),
        _ => sub,
    }
}

/// The `preview` option's choices: the values of the `preview:` word.
fn preview_choices(o: CreateCommandOption) -> CreateCommandOption {
    [Preview::Source, Preview::Ptt, Preview::Off]
        .into_iter()
        .fold(o, |o, p| o.add_string_choice(p.as_str(), p.as_str()))
}

/// The definition of `/ptt` sent at start-up.
pub fn ptt_command() -> CreateCommand {
    let mut cmd = CreateCommand::new(COMMAND_NAME)
        .description(EN.options.command)
        .default_member_permissions(DEFAULT_MEMBER_PERMISSIONS)
        .dm_permission(true);
    for (locale, texts) in LOCALES {
        cmd = cmd.description_localized(locale, texts.options.command);
    }
    for i in 0..SUBCOMMANDS.len() {
        cmd = cmd.add_option(subcommand(i));
    }
    cmd
}

/// An option value, as far as `/ptt` cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// A string option.
    Str(String),
    /// An integer option.
    Int(i64),
    /// A boolean option.
    Bool(bool),
    /// Any other kind (never registered by us).
    Other,
}

/// The subcommand and its options of a `/ptt` interaction; `None` when the
/// interaction carries no subcommand.
pub fn subcommand_of(
    options: &[CommandDataOption],
) -> Option<(String, Vec<(String, OptionValue)>)> {
    let first = options.first()?;
    let CommandDataOptionValue::SubCommand(inner) = &first.value else {
        return None;
    };
    let values = inner
        .iter()
        .map(|o| {
            let v = match &o.value {
                CommandDataOptionValue::String(s) => OptionValue::Str(s.clone()),
                CommandDataOptionValue::Integer(n) => OptionValue::Int(*n),
                CommandDataOptionValue::Boolean(b) => OptionValue::Bool(*b),
                _ => OptionValue::Other,
            };
            (o.name.clone(), v)
        })
        .collect();
    Some((first.name.clone(), values))
}

fn err(command: CommandName, error: ParseError) -> CommandError {
    CommandError { command, error }
}

fn value_text(v: &OptionValue) -> String {
    match v {
        OptionValue::Str(s) => s.clone(),
        OptionValue::Int(n) => n.to_string(),
        OptionValue::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        OptionValue::Other => String::new(),
    }
}

/// Maps a subcommand and its options onto a [`Command`], with the same
/// validation (and the same errors) as the text commands.
pub fn to_command(name: &str, options: &[(String, OptionValue)]) -> Result<Command, CommandError> {
    match name {
        "subscribe" => subscribe(options),
        "unsubscribe" => {
            let target = options
                .iter()
                .find(|(k, _)| k == "target")
                .map(|(_, v)| value_text(v))
                .unwrap_or_default();
            let target: String = target.nfkc().collect();
            let target = target.trim();
            if target.is_empty() {
                return Err(err(CommandName::Unsubscribe, ParseError::MissingTarget));
            }
            // One word, like `/unsubscribe ID|BOARD|all`.
            match parse_text(&format!("/unsubscribe {target}"), None)? {
                Some(cmd) => Ok(cmd),
                None => Err(err(CommandName::Unsubscribe, ParseError::MissingTarget)),
            }
        }
        "latest" => {
            // Like `/latest [N]`.
            let n: Vec<String> = options
                .iter()
                .filter(|(k, _)| k == "n")
                .take(1)
                .map(|(_, v)| value_text(v))
                .collect();
            Latest::parse(&n)
                .map(Command::Latest)
                .map_err(|e| err(CommandName::Latest, e))
        }
        "top" => {
            // Like `/top [BOARD] [N]`.
            let option = |name: &str| {
                options
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| value_text(v).nfkc().collect::<String>().trim().to_owned())
                    .filter(|v| !v.is_empty())
            };
            let words: Vec<String> = [option("board"), option("n")]
                .into_iter()
                .flatten()
                .collect();
            Top::parse(&words)
                .map(Command::Top)
                .map_err(|e| err(CommandName::Top, e))
        }
        "list" => Ok(Command::List(List)),
        "status" => Ok(Command::Status(Status)),
        "help" => Ok(Command::Help(Help)),
        other => Err(err(
            CommandName::Other,
            ParseError::UnknownCommand(format!("{COMMAND_NAME} {other}")),
        )),
    }
}

fn subscribe(options: &[(String, OptionValue)]) -> Result<Command, CommandError> {
    let fail = |e: ParseError| err(CommandName::Subscribe, e);
    let mut board = None;
    let mut words: Vec<String> = Vec::new();
    for (key, value) in options {
        let text: String = value_text(value).nfkc().collect();
        match key.as_str() {
            "board" => {
                let b = text.trim();
                if !b.is_empty() {
                    board = Some(b.to_owned());
                }
            }
            "kw" | "not" | "stock" | "sector" => {
                for w in split_words(&text).map_err(|e| fail(e.into()))? {
                    words.push(format!("{key}:{w}"));
                }
            }
            "tag" | "author" | "push" | "re" | "fw" | "silent" | "preview" | "hot" | "top" => {
                words.push(format!("{key}:{text}"));
            }
            // Which channel, not a word: see `super::target`.
            "channel" => {}
            other => {
                return Err(fail(ParseError::Filter(
                    crate::filter::FilterError::UnknownWord(format!("{other}:{text}")),
                )));
            }
        }
    }
    let filter = Filter::parse(&words).map_err(|e| fail(e.into()))?;
    Ok(Command::Subscribe(Subscribe { board, filter }))
}

/// Whether a command may take a while and is best answered publicly: the
/// guess a deferred answer is made with.
pub fn answered_publicly(parsed: &Result<Command, CommandError>) -> bool {
    matches!(
        parsed,
        Ok(Command::Subscribe { .. } | Command::Unsubscribe(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{Target, Unsubscribe};
    use crate::filter::{FilterError, TagFilter};

    fn s(k: &str, v: &str) -> (String, OptionValue) {
        (k.to_owned(), OptionValue::Str(v.to_owned()))
    }

    #[test]
    fn subscribe_options_become_the_same_filter_as_the_text_command() {
        let opts = vec![
            s("board", "stock"),
            s("kw", "台積電 \"ADR 漲\""),
            s("not", "盤中"),
            ("push".to_owned(), OptionValue::Int(30)),
            ("re".to_owned(), OptionValue::Bool(true)),
            ("silent".to_owned(), OptionValue::Bool(true)),
            s("preview", "off"),
            s("stock", "2330 鴻海"),
            s("sector", "半導體業"),
            s("hot", "20/10"),
        ];
        let Command::Subscribe(Subscribe { board, filter }) =
            to_command("subscribe", &opts).unwrap()
        else {
            panic!("not a subscribe");
        };
        assert_eq!(board.as_deref(), Some("stock"));
        let text = crate::commands::parse(
            "/subscribe stock kw:台積電 kw:\"ADR 漲\" not:盤中 push:30 re:yes silent:yes preview:off \
             stock:2330 stock:鴻海 sector:半導體業 hot:20/10",
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            text,
            Command::Subscribe(Subscribe {
                board: Some("stock".into()),
                filter: filter.clone()
            })
        );
        assert_eq!(filter.tag, TagFilter::Is("新聞".into()));
        assert!(filter.silent);
        assert_eq!(filter.preview, Some(Preview::Off));
        assert_eq!(filter.stocks, ["2317", "2330"]);
        assert_eq!(filter.sectors, ["半導體業"]);
        assert_eq!(
            filter.hot,
            Some(crate::filter::Hot {
                rise: 20,
                minutes: 10
            })
        );
    }

    #[test]
    fn the_top_option_is_the_top_word() {
        let opts = vec![s("stock", "2330"), ("top".to_owned(), OptionValue::Int(5))];
        let Command::Subscribe(Subscribe { filter, .. }) = to_command("subscribe", &opts).unwrap()
        else {
            panic!("not a subscribe");
        };
        assert_eq!(filter.top, Some(5));
        assert_eq!(filter.canonical(), "tag:新聞 stock:2330 top:5");
        let with_hot = vec![("top".to_owned(), OptionValue::Int(5)), s("hot", "20/10")];
        let e = to_command("subscribe", &with_hot).unwrap_err();
        assert_eq!(
            e.error,
            ParseError::Filter(FilterError::Conflict("top", "hot"))
        );
    }

    #[test]
    fn bad_options_get_the_parsers_errors() {
        let e = to_command("subscribe", &[("push".into(), OptionValue::Int(0))]).unwrap_err();
        assert_eq!(e.command, CommandName::Subscribe);
        assert!(matches!(
            e.error,
            ParseError::Filter(FilterError::BadValue { key: "push", .. })
        ));
        let e = to_command("subscribe", &[s("kw", "\"open")]).unwrap_err();
        assert_eq!(e.error, ParseError::UnbalancedQuote);
        let e = to_command("subscribe", &[s("author", "two words")]).unwrap_err();
        assert!(matches!(e.error, ParseError::Filter(_)));
        let many = (0..25)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let e = to_command("subscribe", &[s("kw", &many)]).unwrap_err();
        assert_eq!(e.error, ParseError::Filter(FilterError::TooManyWords));
        let e = to_command("unsubscribe", &[s("target", "../x")]).unwrap_err();
        assert_eq!(e.error, ParseError::BadTarget("../x".into()));
        let e = to_command("unsubscribe", &[s("target", "1 2")]).unwrap_err();
        assert_eq!(e.error, ParseError::UnexpectedWords);
        let e = to_command("latest", &[("n".into(), OptionValue::Int(21))]).unwrap_err();
        assert_eq!(e.error, ParseError::BadCount("21".into()));
        let e = to_command("frob", &[]).unwrap_err();
        assert!(matches!(e.error, ParseError::UnknownCommand(_)));
    }

    #[test]
    fn other_subcommands() {
        assert_eq!(
            to_command("unsubscribe", &[s("target", "#3")]).unwrap(),
            Command::Unsubscribe(Unsubscribe {
                target: Target::Id(3)
            })
        );
        assert_eq!(
            to_command("unsubscribe", &[s("target", "ALL")]).unwrap(),
            Command::Unsubscribe(Unsubscribe {
                target: Target::All
            })
        );
        assert_eq!(
            to_command("latest", &[]).unwrap(),
            Command::Latest(Latest { n: 5 })
        );
        assert_eq!(
            to_command("latest", &[("n".into(), OptionValue::Int(20))]).unwrap(),
            Command::Latest(Latest { n: 20 })
        );
        assert_eq!(to_command("list", &[]).unwrap(), Command::List(List));
        assert_eq!(to_command("status", &[]).unwrap(), Command::Status(Status));
        assert_eq!(to_command("help", &[]).unwrap(), Command::Help(Help));
    }

    #[test]
    fn the_definition_has_seven_subcommands_described_in_both_languages() {
        let v = serde_json::to_value(ptt_command()).unwrap();
        assert_eq!(v["name"], "ptt");
        assert_eq!(v["default_member_permissions"], "16");
        assert_eq!(v["dm_permission"], true);
        let subs = v["options"].as_array().unwrap();
        let names: Vec<&str> = subs.iter().map(|o| o["name"].as_str().unwrap()).collect();
        assert_eq!(names, SUBCOMMANDS);
        let all = std::iter::once(&v).chain(subs.iter()).chain(
            subs.iter()
                .flat_map(|s| s["options"].as_array().into_iter().flatten()),
        );
        for item in all {
            let d = item["description"].as_str().unwrap();
            assert!(!d.is_empty() && d.chars().count() <= 100, "{d}");
            for locale in ["zh-TW", "en-US"] {
                let l = item["description_localizations"][locale].as_str().unwrap();
                assert!(!l.is_empty() && l.chars().count() <= 100, "{l}");
            }
        }
        let sub = &subs[0]["options"];
        let opt_names: Vec<&str> = sub
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            opt_names,
            [
                "board", "tag", "kw", "not", "author", "push", "re", "fw", "silent", "preview",
                "channel", "stock", "sector", "hot", "top"
            ]
        );
        let top = &sub[14];
        assert_eq!(top["type"], 4, "an integer option");
        assert_eq!(
            (top["min_value"].clone(), top["max_value"].clone()),
            (3.into(), 20.into())
        );
        let channel = &sub[10];
        assert_eq!(channel["type"], 7, "a channel option");
        assert_eq!(
            channel["channel_types"],
            serde_json::json!([0, 5, 15]),
            "text, announcement, forum"
        );
        let preview = &sub[9];
        assert_eq!(preview["type"], 3, "a string option");
        let choices: Vec<&str> = preview["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["value"].as_str().unwrap())
            .collect();
        assert_eq!(choices, ["source", "ptt", "off"]);
        assert_eq!(sub[8]["type"], 5, "a boolean option");
        assert_eq!(subs[1]["options"][0]["required"], true);
        assert_eq!(subs[3]["options"][0]["max_value"], 20);
    }
}
