//! A fake webhook receiver on 127.0.0.1: records every request (method,
//! path, query, headers, body) and answers like the receiving service.
//!
//! Answers: a POST with `?wait=true` (Discord's execute-webhook) gets the
//! created message `{"id": "…"}`; a PATCH to `…/messages/{id}` (Discord's
//! edit) gets the edited message, or 404 Unknown Message for an id it
//! never gave; any other POST gets `ok` (Slack) with 200. Scripted
//! statuses ([`FakeWebhook::fail_next`]) answer the next requests first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// What was answered.
    pub status: u16,
    /// The id of the message created (`?wait=true`) or edited.
    pub message_id: Option<String>,
}

impl Received {
    /// The body as JSON (Null when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<(u16, Vec<(String, String)>)>,
    next_id: u64,
    created: Vec<String>,
}

/// The fake receiver.
#[derive(Clone)]
pub struct FakeWebhook {
    inner: Arc<Mutex<Inner>>,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
}

impl FakeWebhook {
    pub async fn start() -> FakeWebhook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            next_id: 1_300_000_000_000_000_001,
            ..Inner::default()
        }));
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        FakeWebhook { inner, base_url }
    }

    /// A URL of this receiver (`path` such as `/hooks/T0/B0/secret`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The next requests are answered with these statuses (in order),
    /// with these headers, before the normal answers resume.
    pub fn fail_next(&self, status: u16, headers: &[(&str, &str)], times: usize) {
        let mut s = self.inner.lock().unwrap();
        for _ in 0..times {
            s.script.push_back((
                status,
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ));
        }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The requests to a path (any method), in order.
    pub fn to_path(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// The requests that were answered with a 2xx, on paths starting with
    /// `prefix`.
    pub fn accepted(&self, prefix: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix) && (200..300).contains(&r.status))
            .collect()
    }
}

async fn answer(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = inner.lock().unwrap();
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let mut message_id = None;
    let (status, extra, reply): (u16, Vec<(String, String)>, Response) = if let Some((
        status,
        extra,
    )) =
        s.script.pop_front()
    {
        let body = if status == 429 {
            json!({"message": "You are being rate limited.", "retry_after": 1.0, "global": false})
        } else {
            json!({"message": "scripted"})
        };
        let code = StatusCode::from_u16(status).unwrap();
        (status, extra, (code, axum::Json(body)).into_response())
    } else if method == Method::PATCH {
        let id = path.rsplit('/').next().unwrap_or("").to_owned();
        if path.contains("/messages/") && s.created.contains(&id) {
            let mut msg = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
            msg["id"] = json!(id);
            message_id = Some(id);
            (200, vec![], axum::Json(msg).into_response())
        } else {
            (
                404,
                vec![],
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"code": 10008, "message": "Unknown Message"})),
                )
                    .into_response(),
            )
        }
    } else if query.as_deref().is_some_and(|q| q.contains("wait=true")) {
        let id = s.next_id.to_string();
        s.next_id += 1;
        s.created.push(id.clone());
        let mut msg = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
        msg["id"] = json!(id);
        message_id = Some(id);
        (200, vec![], axum::Json(msg).into_response())
    } else {
        (200, vec![], "ok".into_response())
    };
    s.received.push(Received {
        method: method.to_string(),
        path,
        query,
        headers,
        body: body.to_vec(),
        status,
        message_id,
    });
    let mut reply = reply;
    for (k, v) in extra {
        reply.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    reply
}
