//! The engagement inbox in the browser and over the API: the list with filters and saved
//! views, the conversation page with its actions, the product feedback log, the metrics,
//! live updates, and the JSON API under `/api/conversations`.
//!
//! Pages and API share [`actions`]: one function per change, so a form and a JSON call do
//! exactly the same thing (same checks, same events, same outbox message).

pub(crate) mod actions;
pub(crate) mod api;
pub(crate) mod live;
pub(crate) mod pages;
pub(crate) mod params;
pub(crate) mod view;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};

use crate::AppState;

/// Who is acting: the signed-in user's name (recorded in the event log, used for "mine" and
/// "assign to me") and the CSRF token the page's forms must carry.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub csrf: Option<String>,
}

/// The name changes are recorded under when the server runs without sign-in.
pub const ANONYMOUS: &str = "anonymous";

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Actor {
            name: ANONYMOUS.to_string(),
            csrf: None,
        })
        .map(|actor: Actor| {
            let _ = &parts.extensions;
            actor
        })
    }
}

pub(crate) fn now(_app: &AppState) -> DateTime<Utc> {
    Utc::now()
}

/// A fresh random key for a reply form: one per rendered form, so submitting the same form
/// twice queues one reply.
pub(crate) fn new_form_key() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
