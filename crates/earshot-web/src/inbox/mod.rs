//! The engagement inbox in the browser and over the API: the list with filters and saved
//! views, the conversation page with its actions, the product feedback log, the metrics,
//! live updates, and the JSON API under `/api/conversations`.
//!
//! Pages and API share [`actions`]: one function per change, so a form and a JSON call do
//! exactly the same thing (same checks, same events, same outbox message).

pub(crate) mod actions;
pub(crate) mod api;
pub(crate) mod labels;
pub(crate) mod live;
pub(crate) mod pages;
pub(crate) mod params;
pub(crate) mod rules;
pub(crate) mod rules_file;
pub(crate) mod view;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use earshot_core::Role;

use crate::auth::SignedIn;
use crate::AppState;

/// Who is acting: the signed-in user's name (recorded in the event log, used for "mine" and
/// "assign to me"), their role, and the CSRF token the page's forms must carry.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: Role,
    pub csrf: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Every inbox route is behind the guard, which puts the signed-in user here; a route
        // registered without it must fail closed, not act for nobody.
        match parts.extensions.get::<SignedIn>() {
            Some(signed_in) => Ok(Actor {
                name: signed_in.user.name.clone(),
                role: signed_in.user.role,
                csrf: signed_in.csrf().map(str::to_string),
            }),
            None => Err((StatusCode::UNAUTHORIZED, "sign in first").into_response()),
        }
    }
}

impl Actor {
    /// Agents take conversations themselves; handing one to someone else is a manager's call.
    pub fn may_assign(&self, member: Option<&str>) -> bool {
        self.role >= Role::Manager || member.is_none_or(|m| m == self.name)
    }
}

pub(crate) fn now(app: &AppState) -> DateTime<Utc> {
    app.now()
}

/// A fresh random key for a reply form: one per rendered form, so submitting the same form
/// twice queues one reply.
pub(crate) fn new_form_key() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::thread_rng().gen();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
