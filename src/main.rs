//! The `ptt-relay` command line. Thin: parses arguments, sets up logging and
//! maps failures to exit codes (0 success, 1 runtime failure, 2 invalid usage
//! or configuration), printing one line on stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ptt_relay::chat::registry;
use ptt_relay::config::{Loaded, Settings, Sources};
use ptt_relay::preview::{self, Format, Source};

#[derive(Parser)]
#[command(
    name = "ptt-relay",
    version,
    about = "Relays tagged PTT posts to Discord and Telegram chats"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll PTT and relay new posts (to the console when no chat token is set).
    Run {
        /// A TOML file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print one article's digest (a saved page is read offline).
    Preview {
        /// A PTT article URL (https://www.ptt.cc/bbs/Board/M.….html) or a saved page.
        source: String,
        /// Output format.
        #[arg(long, default_value = "text", value_parser = format_parser())]
        format: String,
    },
    /// Exit 0 when the running service answers /healthz (for container health checks).
    Healthcheck {
        /// A TOML file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Validate the configuration and print it with secrets masked.
    CheckConfig {
        /// A TOML file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// A failure and the exit code it maps to.
enum Failure {
    /// Exit 2: the arguments or the configuration are wrong.
    Usage(String),
    /// Exit 1: the network, PTT or the store failed.
    Runtime(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => run(config),
        Command::Preview { source, format } => run_preview(&source, &format),
        Command::CheckConfig { config } => check_config(config),
        Command::Healthcheck { config } => healthcheck(config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {}", one_line(&msg));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("error: {}", one_line(&msg));
            ExitCode::from(1)
        }
    }
}

/// A failure is reported on one line, even when a library's message spans
/// several (the TOML parser draws a caret diagram).
fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|" && !l.chars().all(|c| c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(file: Option<PathBuf>) -> Result<(), Failure> {
    let Loaded {
        settings,
        unknown_keys,
    } = Settings::load(&Sources { file, env: None }).map_err(|e| Failure::Usage(e.to_string()))?;
    ptt_relay::telemetry::init(settings.log.format == ptt_relay::config::OutputFormat::Json);
    let platform_keys = registry::configure(&settings)
        .map(|p| p.unknown_keys)
        .unwrap_or_default();
    for key in unknown_keys.into_iter().chain(platform_keys) {
        tracing::warn!(%key, "unknown configuration key ignored");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let running = ptt_relay::app::start(&settings).await.map_err(|e| {
            if e.is_usage() {
                Failure::Usage(e.to_string())
            } else {
                Failure::Runtime(e.to_string())
            }
        })?;
        let fatal = tokio::select! {
            () = wait_for_signal() => None,
            reason = running.fatal() => Some(Failure::Usage(reason)),
            reason = running.lost_store() => Some(Failure::Runtime(reason)),
        };
        tracing::info!("shutting down");
        running.stop().await;
        match fatal {
            None => Ok(()),
            Some(failure) => Err(failure),
        }
    })
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `--format`'s values: text, json, and each chat platform's id.
fn format_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Format::names())
}

fn run_preview(arg: &str, format: &str) -> Result<(), Failure> {
    let format = Format::parse(format)
        .ok_or_else(|| Failure::Usage(format!("unknown preview format {format:?}")))?;
    let usage = |e: preview::PreviewError| Failure::Usage(e.to_string());
    let digest = match preview::classify(arg).map_err(usage)? {
        Source::File(path) => {
            let html = preview::read_file(&path).map_err(|e| Failure::Runtime(e.to_string()))?;
            preview::digest_of(&html, &path.to_string_lossy(), None).map_err(usage)?
        }
        Source::Url { url, board, id } => {
            let html = fetch_article(&url).map_err(Failure::Runtime)?;
            preview::digest_of(&html, url.as_str(), Some((board, id))).map_err(usage)?
        }
    };
    print!("{}", preview::render(&digest, format));
    Ok(())
}

/// Fetches an article URL as given (its own host, not `ptt.base_url`).
fn fetch_article(url: &url::Url) -> Result<String, String> {
    use ptt_relay::ptt::budget::Priority;
    use ptt_relay::ptt::client::{ClientOptions, PttClient};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let mut base = url.clone();
    base.set_path("/");
    base.set_query(None);
    let mut options = ClientOptions::new(base);
    // One retry: a person is waiting at the terminal.
    options.max_attempts = 2;
    options.request_timeout = std::time::Duration::from_secs(15);
    let client = PttClient::new(options).map_err(|e| e.to_string())?;
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    runtime
        .block_on(client.get(&path, Priority::Article))
        .map_err(|e| e.to_string())
}

fn healthcheck(file: Option<PathBuf>) -> Result<(), Failure> {
    let Loaded { settings, .. } =
        Settings::load(&Sources { file, env: None }).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut addr: std::net::SocketAddr = settings
        .http
        .listen
        .parse()
        .map_err(|_| Failure::Usage("http.listen is not an address".into()))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}/healthz");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the async runtime: {e}")))?;
    let status = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(2))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        client
            .get(&url)
            .send()
            .await
            .map(|r| r.status())
            .map_err(|_| format!("{url} did not answer"))
    });
    match status {
        Ok(s) if s.is_success() => Ok(()),
        Ok(s) => Err(Failure::Runtime(format!("{url} answered {}", s.as_u16()))),
        Err(e) => Err(Failure::Runtime(e)),
    }
}

fn check_config(file: Option<PathBuf>) -> Result<(), Failure> {
    let Loaded {
        settings,
        mut unknown_keys,
    } = Settings::load(&Sources { file, env: None }).map_err(|e| Failure::Usage(e.to_string()))?;
    let platforms = registry::configure(&settings).map_err(|e| Failure::Usage(e.to_string()))?;
    unknown_keys.extend(platforms.unknown_keys.iter().cloned());
    if !unknown_keys.is_empty() {
        return Err(Failure::Usage(
            ptt_relay::config::ConfigError::UnknownKeys(unknown_keys).to_string(),
        ));
    }
    print!("{}", settings.to_masked_toml());
    // Each platform's section, as it reads it (secrets masked).
    print!(
        "\n{}",
        toml::to_string(&platforms.shown).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    );
    Ok(())
}
