//! Keeping secrets out of logs and error messages.

use secrecy::{ExposeSecret, SecretString};

/// Replaces every occurrence of each secret in `text` with `***`. Secrets
/// shorter than 6 characters are left alone (they would mangle ordinary
/// text and are not real tokens).
pub fn redact(text: &str, secrets: &[&SecretString]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        let s = s.expose_secret();
        if s.len() >= 6 {
            out = out.replace(s, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced() {
        let t = SecretString::from("123456:ABC-secret");
        assert_eq!(
            redact("url https://api/bot123456:ABC-secret/SendMessage", &[&t]),
            "url https://api/bot***/SendMessage"
        );
    }
}
