//! Account credential checks against local servers answering as the Mastodon documentation
//! (`GET /api/v1/accounts/verify_credentials`: the Account entity, 401 `{"error": ...}`) and
//! the AT Protocol lexicon (`com.atproto.server.createSession`: accessJwt, refreshJwt, handle,
//! did; 401 `AuthenticationRequired`; 429 with `RateLimit-*`) describe.

use std::time::Duration;

use earshot_core::AccountCredentials;
use earshot_sources::accounts::verify_credentials;
use earshot_sources::{HttpClient, SourceError};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn http() -> HttpClient {
    HttpClient::new(Duration::from_secs(5)).unwrap()
}

fn mastodon(token: &str) -> AccountCredentials {
    AccountCredentials::Mastodon {
        access_token: token.into(),
    }
}

#[tokio::test]
async fn mastodon_token_is_verified() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .and(header("authorization", "Bearer good-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "109348",
            "username": "shop",
            "acct": "shop",
            "display_name": "Shop",
            "locked": false,
            "bot": false,
            "created_at": "2022-11-14T00:00:00.000Z",
            "note": "<p>Our shop</p>",
            "url": "https://social.example/@shop",
            "followers_count": 10,
            "following_count": 2,
            "statuses_count": 30,
            "source": {"privacy": "public", "sensitive": false, "language": "en", "note": "Our shop", "fields": []}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let verified = verify_credentials(&http(), "shop", &server.uri(), &mastodon("good-token"))
        .await
        .unwrap();
    assert_eq!(verified.handle, "shop");
    assert_eq!(verified.remote_id, "109348");
}

#[tokio::test]
async fn mastodon_bad_token_is_an_auth_error_with_the_servers_words() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/verify_credentials"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"})),
        )
        .mount(&server)
        .await;
    let err = verify_credentials(&http(), "shop", &server.uri(), &mastodon("revoked"))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Auth { .. }), "{err}");
    assert!(
        err.to_string().contains("The access token is invalid"),
        "{err}"
    );
    assert!(err.to_string().starts_with("shop:"), "{err}");
}

#[tokio::test]
async fn bluesky_app_password_opens_a_session() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .and(body_json(
            json!({"identifier": "shop.bsky.social", "password": "abcd-efgh-ijkl-mnop"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": "eyJ.access",
            "refreshJwt": "eyJ.refresh",
            "handle": "shop.bsky.social",
            "did": "did:plc:z72i7hdynmk6r22z27h6tvur",
            "email": "team@shop.example",
            "emailConfirmed": true,
            "active": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    let verified = verify_credentials(
        &http(),
        "shop-sky",
        &server.uri(),
        &AccountCredentials::Bluesky {
            identifier: "shop.bsky.social".into(),
            app_password: "abcd-efgh-ijkl-mnop".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(verified.handle, "shop.bsky.social");
    assert_eq!(verified.remote_id, "did:plc:z72i7hdynmk6r22z27h6tvur");
}

#[tokio::test]
async fn bluesky_wrong_password_and_rate_limits_are_told_apart() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .and(body_json(
            json!({"identifier": "shop.bsky.social", "password": "wrong"}),
        ))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "AuthenticationRequired",
            "message": "Invalid identifier or password"
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/xrpc/com.atproto.server.createSession"))
        .and(body_json(
            json!({"identifier": "busy.bsky.social", "password": "x"}),
        ))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("ratelimit-limit", "30")
                .insert_header("ratelimit-remaining", "0")
                .insert_header("retry-after", "120")
                .set_body_json(
                    json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
                ),
        )
        .mount(&server)
        .await;
    let wrong = verify_credentials(
        &http(),
        "shop-sky",
        &server.uri(),
        &AccountCredentials::Bluesky {
            identifier: "shop.bsky.social".into(),
            app_password: "wrong".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(wrong, SourceError::Auth { .. }), "{wrong}");
    assert!(
        wrong.to_string().contains("Invalid identifier or password"),
        "{wrong}"
    );
    let limited = verify_credentials(
        &http(),
        "busy",
        &server.uri(),
        &AccountCredentials::Bluesky {
            identifier: "busy.bsky.social".into(),
            app_password: "x".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(limited, SourceError::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(120)),
        "{limited}"
    );
}

#[tokio::test]
async fn a_server_url_that_is_not_a_url_is_named() {
    let err = verify_credentials(&http(), "shop", "social.example", &mastodon("t"))
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Config { .. }));
    assert!(err.to_string().contains("social.example"), "{err}");
}
