//! Keeping secrets out of logs, error messages and printed configuration:
//! the one place that decides how a secret in a URL or text is masked.

use secrecy::{ExposeSecret, SecretString};

/// What a masked secret is replaced with.
pub const MASK: &str = "***";

/// Query parameter names whose values are secrets (compared without case):
/// libpq's `password` and `sslpassword`, and the usual token names.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "sslpassword",
    "passwd",
    "pass",
    "token",
    "access_token",
    "secret",
    "api_key",
    "apikey",
];

/// Replaces every occurrence of each secret in `text` with `***`. Secrets
/// shorter than 6 characters are left alone (they would mangle ordinary
/// text and are not real tokens).
pub fn redact(text: &str, secrets: &[&SecretString]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        let s = s.expose_secret();
        if s.len() >= 6 {
            out = out.replace(s, MASK);
        }
    }
    out
}

/// `url` with its password masked wherever it is: in the user-info part
/// (`postgres://u:***@h/db`) and as the value of a secret query parameter
/// such as `password=` (`postgres://u@h/db?password=***`). Works on text
/// that does not parse as a URL too (cutting the user info by hand), so it
/// is safe to call on whatever an operator wrote.
pub fn mask_url(url: &str) -> String {
    let with_userinfo = mask_userinfo(url);
    mask_query(&with_userinfo)
}

/// The user-info password replaced by `***`.
fn mask_userinfo(url: &str) -> String {
    if let Ok(mut u) = url::Url::parse(url) {
        if u.password().is_some() {
            let _ = u.set_password(Some(MASK));
            return u.to_string();
        }
        if u.has_host() || !url.contains('@') {
            return url.to_owned();
        }
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    // A password may itself hold `/` or `?`: the user info ends at the last
    // `@` before the path when there is one, else at the last `@` at all.
    let at = rest[..authority_end]
        .rfind('@')
        .or_else(|| rest.rfind('@').filter(|&i| rest[..i].contains(':')));
    match at {
        Some(at) if rest[..at].contains(':') => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:{MASK}@{}", &rest[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Secret query parameters' values replaced by `***`.
fn mask_query(url: &str) -> String {
    let Some(q_at) = url.find('?') else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(q_at + 1);
    let (query, fragment) = match rest.find('#') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret_param(key) => format!("{key}={MASK}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{head}{}{fragment}", masked.join("&"))
}

fn is_secret_param(key: &str) -> bool {
    let key: String = url::form_urlencoded::parse(format!("{key}=").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default();
    SECRET_PARAMS.iter().any(|p| key.eq_ignore_ascii_case(p))
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

    #[test]
    fn a_user_info_password_is_masked() {
        assert_eq!(mask_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(
            mask_url("postgres://u:p@w@h:x/db"),
            "postgres://u:***@h:x/db"
        );
        assert_eq!(mask_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            mask_url("https://proxy:hunter2@proxy.example/"),
            "https://proxy:***@proxy.example/"
        );
    }

    #[test]
    fn a_password_query_parameter_is_masked() {
        assert_eq!(
            mask_url("postgres://relay@db/relay?password=secret"),
            "postgres://relay@db/relay?password=***"
        );
        assert_eq!(
            mask_url("postgres://relay@db/relay?sslmode=require&PASSWORD=s%26x&user=a#f"),
            "postgres://relay@db/relay?sslmode=require&PASSWORD=***&user=a#f"
        );
        assert_eq!(
            mask_url("postgres://u:a@db:bad/x?sslpassword=k"),
            "postgres://u:***@db:bad/x?sslpassword=***"
        );
        assert_eq!(mask_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
