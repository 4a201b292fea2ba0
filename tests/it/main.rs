//! The integration tests: one binary (linked once), a module per area, the
//! fakes of PTT, Telegram and Discord and the harness in `support/`.

mod support;

mod architecture;
mod article_parser;
mod cases;
mod cli;
mod commands;
mod corpus_articles;
mod corpus_index;
mod digest_bounds;
mod discord;
mod failover_binary;
mod fanout;
mod faults_ptt;
mod hot;
mod http_bounds;
mod index_parser;
mod leaderboard;
mod lease_binary;
mod ops_binary;
mod polling_rules;
mod prop_article;
mod prop_index;
mod prop_renderers;
mod ptt_client;
mod relay_poller;
mod renderers;
mod run_binary;
mod sim;
mod simulation;
mod source_links;
mod stocks;
mod store_contract;
mod store_lease;
mod tally;
mod tally_telegram;
mod telegram;
mod telegram_binary;
mod top;
mod webhook;
