//! The console sink: every digest it receives is printed on stdout, one
//! text block (or one JSON line) per post. Logs stay on stderr.

use std::io::Write;

use async_trait::async_trait;

use super::{ChatSink, EditKind, SendOutcome};
use crate::commands::Reply;
use crate::dest::{Destination, Platform};
use crate::digest::{Digest, text};
use crate::filter::DeliveryOptions;

/// Prints digests on stdout.
pub struct ConsoleSink {
    json: bool,
}

impl ConsoleSink {
    /// A console sink printing text blocks, or JSON lines when `json`.
    pub fn new(json: bool) -> Self {
        ConsoleSink { json }
    }
}

#[async_trait]
impl ChatSink for ConsoleSink {
    fn platform(&self) -> Platform {
        Platform::CONSOLE
    }

    async fn send(&self, _dest: &Destination, digest: &Digest, _: &DeliveryOptions) -> SendOutcome {
        let out = if self.json {
            format!("{}\n", text::render_json(digest))
        } else {
            format!("{}\n", text::render(digest))
        };
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => SendOutcome::Sent {
                message_id: digest.id.clone(),
            },
            Err(e) => SendOutcome::Transient(format!("cannot write to stdout: {e}")),
        }
    }

    async fn edit(
        &self,
        _: &Destination,
        _: &str,
        _: &Digest,
        _: EditKind,
        _: &DeliveryOptions,
    ) -> SendOutcome {
        // A printed block cannot change; the console shows each post once.
        SendOutcome::Sent {
            message_id: String::new(),
        }
    }

    async fn answer(&self, _: &Destination, _: &Reply) -> SendOutcome {
        SendOutcome::Rejected("the console takes no commands".into())
    }
}
