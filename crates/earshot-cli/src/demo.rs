//! `earshot demo`: a temporary workspace with the fictional brands, a few thousand generated
//! mentions in ru, el and en, a live stream of new ones, and the web UI.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{Duration, Utc};
use earshot_core::{Config, IncomingMention};
use earshot_engine::{import_items, Pipeline};
use tokio_util::sync::CancellationToken;

use crate::generate::{demo_brands, Generator, FICTION_NOTICE};
use crate::workspace::Workspace;

/// Mentions loaded before the server starts.
pub const DEMO_CORPUS_SIZE: usize = 3_000;

pub fn demo_corpus(seed: u64) -> Vec<IncomingMention> {
    let start = Utc::now() - Duration::days(7);
    // Spread over the past week.
    let step = Duration::seconds(7 * 24 * 3600 / DEMO_CORPUS_SIZE as i64);
    let mut generator = Generator::new(seed, start, step, 3..=12);
    let mut corpus = Vec::with_capacity(DEMO_CORPUS_SIZE);
    let mut recent = Vec::new();
    while corpus.len() < DEMO_CORPUS_SIZE {
        // One in twenty is a repost of something said shortly before.
        let line = if corpus.len() % 20 == 19 && !recent.is_empty() {
            let original = &recent[corpus.len() % recent.len()];
            generator.repost_of(original)
        } else {
            generator.next_mention()
        };
        recent.push(line.clone());
        if recent.len() > 50 {
            recent.remove(0);
        }
        let label = line.source.clone().unwrap_or_default();
        corpus.push(
            line.into_incoming(&label)
                .expect("generated lines are valid"),
        );
    }
    corpus
}

pub async fn run(addr: &str, rate: f64, keep: Option<PathBuf>) -> Result<()> {
    let (dir, _temp) = match keep {
        Some(dir) => (dir, None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("earshot-demo-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let workspace = Workspace { dir };
    // The demo admin works in every team, so "assign to me" works on any conversation.
    let teams = earshot_core::routing::DEFAULT_TEAMS
        .iter()
        .map(|name| {
            let mut team = earshot_core::TeamConfig::new(*name);
            team.members = vec!["demo".into()];
            team.manager = Some("demo".into());
            team
        })
        .collect();
    let config = Config {
        brands: demo_brands(),
        teams,
        ..Config::default()
    };
    workspace.init(&config).await?;
    eprintln!("{FICTION_NOTICE}");
    eprintln!("Workspace: {}", workspace.dir.display());
    let store = workspace.open_store().await?;
    // The demo's generated stream routes by the same live rules the rules editor (/inbox/rules)
    // replaces on save, as under `earshot serve`.
    let live_rules = Arc::new(earshot_engine::inbox::LiveRules::new(Arc::new(
        earshot_engine::inbox::RoutingRules::compile(&config)?,
    )));
    let pipeline = Arc::new(
        crate::commands::inbox_pipeline_with(
            store.clone(),
            &config,
            None,
            Some(live_rules.clone()),
        )
        .await?,
    );
    let corpus = demo_corpus(2026);
    let report = import_items(
        pipeline.clone(),
        corpus.into_iter().map(Ok::<_, String>),
        Arc::new(()),
    )
    .await?;
    eprintln!(
        "Loaded {} demo mentions ({} reposts linked to their originals); the inbox at /inbox holds the conversations they opened.",
        report.ingest.inserted, report.ingest.near_duplicates
    );

    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("{addr} is not available ({error}); using a free port instead");
            tokio::net::TcpListener::bind("127.0.0.1:0").await?
        }
    };
    // A demo still signs in like the real thing: an admin with a fresh random password.
    let password = earshot_web::auth::new_secret()[..20].to_string();
    crate::users::add_user_with_password(
        store.as_ref(),
        "demo",
        Some("Demo admin".into()),
        earshot_core::Role::Admin,
        &password,
    )
    .await?;
    let local = listener.local_addr()?;
    eprintln!("Sign in at http://{local}/login as user `demo` with password {password}");
    let shutdown = CancellationToken::new();
    if rate > 0.0 {
        tokio::spawn(replay(pipeline, rate, shutdown.clone()));
    }
    eprintln!("Press Ctrl-C to stop; the temporary workspace is removed on exit.");
    crate::commands::serve_routing_until_ctrl_c(
        &workspace,
        config,
        store,
        listener,
        shutdown,
        Some(live_rules),
    )
    .await
}

/// New mentions arriving as if from the networks, stamped with the current time.
async fn replay(pipeline: Arc<Pipeline>, rate: f64, shutdown: CancellationToken) {
    let mut generator = Generator::new(7, Utc::now(), Duration::zero(), 3..=12);
    let pause = std::time::Duration::from_secs_f64(1.0 / rate);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.cancelled() => return,
        }
        let mut line = generator.next_mention();
        line.published_at = Some(Utc::now().to_rfc3339());
        let label = line.source.clone().unwrap_or_default();
        let Ok(item) = line.into_incoming(&label) else {
            continue;
        };
        if let Err(error) = pipeline.ingest(vec![item], None).await {
            tracing::warn!("demo replay: {error}");
        }
    }
}
