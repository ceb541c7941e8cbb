//! What each subcommand does. Business logic lives in the library crates; this is the edge.

use std::io::{BufReader, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use earshot_core::{
    Config, IncomingMention, InterchangeMention, MentionFilter, SortOrder, SourceConfig, SourceKind,
};
use earshot_engine::{import_items, poll_source_once, Pipeline, Scheduled, Scheduler};
use earshot_sources::files::{self, CsvColumns};
use earshot_sources::{build_source, HttpClient};
use earshot_store::Store;
use tokio_util::sync::CancellationToken;

use crate::progress::{self, Progress};
use crate::workspace::Workspace;
use crate::{
    BrandAction, Cli, Command, FilterArgs, FormatArg, ImportArgs, KindArg, ModelAction, SortArg,
    SourceAction,
};

/// Whole-request timeout for every source's HTTP calls.
pub const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let workspace = Workspace::resolve(cli.dir)?;
    match cli.command {
        Command::Init => {
            workspace.init(&Config::default()).await?;
            // The key that encrypts account credentials; only `init` creates it, so a missing
            // key is an error later instead of a new key that cannot open old records.
            earshot_vault::MasterKey::create_file(&workspace.dir)?;
            println!(
                "Created an Earshot workspace in {}",
                workspace.dir.display()
            );
            println!("Next: earshot brand add NAME --query QUERY, then earshot source add ...");
        }
        Command::Brand { action } => brand(&workspace, action)?,
        Command::Source { action } => source(&workspace, action).await?,
        Command::Fetch { source } => return fetch(&workspace, source.as_deref()).await,
        Command::Import(args) => return import(&workspace, args).await,
        Command::Export { filters } => export(&workspace, &filters).await?,
        Command::Search {
            query,
            filters,
            limit,
            sort,
            json,
        } => search(&workspace, query, &filters, limit, sort, json).await?,
        Command::Serve { addr, no_poll } => serve(&workspace, addr, !no_poll).await?,
        Command::Demo { addr, rate, keep } => crate::demo::run(&addr, rate, keep).await?,
        Command::User { action } => crate::users::user(&workspace, action).await?,
        Command::Token { action } => crate::users::token(&workspace, action).await?,
        Command::Account { action } => crate::publishing::account(&workspace, action).await?,
        Command::Post { command } => crate::publishing::post(&workspace, command).await?,
        Command::Link { action } => crate::campaigns::link(&workspace, action).await?,
        Command::Campaign { action } => crate::campaigns::campaign(&workspace, action).await?,
        Command::Conversions { action } => crate::campaigns::conversions(&workspace, action)?,
        Command::Reindex => reindex(&workspace).await?,
        Command::Reanalyze => reanalyze(&workspace).await?,
        Command::Analyze { file, explain } => {
            return tokio::task::block_in_place(|| crate::analyze::run(&workspace, &file, explain))
        }
        Command::Model { action } => match action {
            ModelAction::Train {
                task,
                data,
                out,
                with_corrections,
                idf_corpus,
                nb_search,
            } => {
                let request = crate::training::TrainRequest {
                    task,
                    data,
                    out,
                    with_corrections,
                    idf_corpus,
                    nb_search,
                };
                crate::training::train(&workspace, request).await?
            }
            ModelAction::Eval {
                task,
                data,
                model,
                predictions,
                analyzer,
            } => tokio::task::block_in_place(|| {
                if analyzer {
                    crate::training::eval_analyzer(&workspace, &task, &data, predictions.as_deref())
                } else {
                    crate::training::eval(
                        &workspace,
                        &task,
                        &data,
                        model.as_deref(),
                        predictions.as_deref(),
                    )
                }
            })?,
            ModelAction::List => crate::training::list(&workspace)?,
        },
        Command::Bench(args) => crate::bench::run(args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

fn brand(workspace: &Workspace, action: BrandAction) -> Result<()> {
    let mut config = workspace.load_config()?;
    match action {
        BrandAction::Add {
            name,
            query,
            competitor,
        } => {
            // Refuse a malformed query before it reaches the file, with the column of the error.
            earshot_text::query::Query::parse(&query)
                .map_err(|error| anyhow!("query {query:?} is not valid: {error}"))?;
            config.add_brand_query(&name, &query, competitor);
            workspace.save_config(&config)?;
            println!(
                "Brand {name}: query added ({} in all)",
                brand_queries(&config, &name)
            );
        }
        BrandAction::List => {
            if config.brands.is_empty() {
                println!("No brands yet: earshot brand add NAME --query QUERY");
            }
            for brand in &config.brands {
                let role = if brand.competitor {
                    "competitor"
                } else {
                    "ours"
                };
                println!("{} ({role})", brand.name);
                for query in &brand.queries {
                    println!("  {query}");
                }
            }
        }
        BrandAction::Remove { name } => {
            config.remove_brand(&name)?;
            workspace.save_config(&config)?;
            println!("Brand {name} removed; its stored mentions stay.");
        }
    }
    Ok(())
}

fn brand_queries(config: &Config, name: &str) -> usize {
    config
        .brands
        .iter()
        .find(|b| b.name == name)
        .map_or(0, |b| b.queries.len())
}

async fn source(workspace: &Workspace, action: SourceAction) -> Result<()> {
    let mut config = workspace.load_config()?;
    match action {
        SourceAction::Add {
            name,
            kind,
            url,
            interval,
            hashtags,
            search,
            token,
            identifier,
            app_password,
            no_comments,
        } => {
            let kind = match kind {
                KindArg::Feed => SourceKind::Feed,
                KindArg::Mastodon => SourceKind::Mastodon,
                KindArg::Bluesky => SourceKind::Bluesky,
            };
            let mut source = SourceConfig::new(name.clone(), kind);
            source.url = url;
            source.interval_secs = interval.max(10);
            source.hashtags = hashtags
                .into_iter()
                .map(|h| h.trim_start_matches('#').to_string())
                .collect();
            source.search = search;
            source.token = token;
            source.identifier = identifier;
            source.app_password = app_password;
            source.follow_comments = !no_comments;
            // Build it once so a missing URL or credential is refused now, not at the first poll.
            build_source(&source, &HttpClient::new(HTTP_TIMEOUT)?)
                .map_err(|error| anyhow!("{error}"))?;
            config.add_source(source)?;
            workspace.save_config(&config)?;
            println!("Source {name} added.");
        }
        SourceAction::List => {
            let store = workspace.open_store().await?;
            let states = store.source_states().await?;
            if config.sources.is_empty() {
                println!("No sources yet: earshot source add NAME --kind feed --url URL");
            }
            for source in &config.sources {
                let state = states.iter().find(|s| s.name == source.name);
                let health = state.map(|s| &s.health);
                println!(
                    "{}  {}  every {}s  {}",
                    source.name,
                    source.kind,
                    source.interval_secs,
                    source.url.as_deref().unwrap_or("")
                );
                match health {
                    Some(h) => {
                        println!(
                            "  last success: {}  items seen: {}  stored: {}",
                            h.last_success_at
                                .map_or("never".to_string(), |t| t.to_rfc3339()),
                            h.items_seen,
                            h.items_stored
                        );
                        if let (Some(at), Some(error)) = (h.last_error_at, &h.last_error) {
                            println!("  last error ({}): {error}", at.to_rfc3339());
                        }
                    }
                    None => println!("  not polled yet"),
                }
            }
        }
        SourceAction::Remove { name } => {
            config.remove_source(&name)?;
            workspace.save_config(&config)?;
            let store = workspace.open_store().await?;
            store.delete_source_state(&name).await?;
            println!("Source {name} removed; its stored mentions stay.");
        }
    }
    Ok(())
}

async fn pipeline_for(
    workspace: &Workspace,
    store: Arc<dyn Store>,
) -> Result<(Config, Arc<Pipeline>)> {
    pipeline_routing_by(workspace, store, None).await
}

/// The pipeline, routing by `live` when given (the server's rules, which the rules editor
/// replaces while it runs), else by the rules compiled from earshot.toml now.
async fn pipeline_routing_by(
    workspace: &Workspace,
    store: Arc<dyn Store>,
    live: Option<Arc<earshot_engine::inbox::LiveRules>>,
) -> Result<(Config, Arc<Pipeline>)> {
    let config = workspace.load_config()?;
    if config.brands.is_empty() {
        bail!("no brands configured: every item would be dropped. Add one with `earshot brand add NAME --query QUERY`");
    }
    let pipeline = inbox_pipeline_with(store, &config, Some(&workspace.dir), live).await?;
    Ok((config, Arc::new(pipeline)))
}

/// The pipeline with the analysis stage (the built-in models, or the workspace's own in
/// `models/`) and the inbox hook: every way mentions come in (fetch, import, serve, demo) is
/// analysed and opens or joins inbox conversations.
pub(crate) async fn inbox_pipeline_with(
    store: Arc<dyn Store>,
    config: &Config,
    workspace_dir: Option<&std::path::Path>,
    live: Option<Arc<earshot_engine::inbox::LiveRules>>,
) -> Result<Pipeline> {
    let analyzer = crate::models::load_for_analysis(workspace_dir)?;
    let pipeline = Pipeline::new(store.clone(), &config.brands)
        .await
        .context("cannot start the pipeline")?
        .with_analyzer(Some(Arc::new(analyzer)));
    let live = match live {
        Some(live) => live,
        None => Arc::new(earshot_engine::inbox::LiveRules::new(Arc::new(
            earshot_engine::inbox::RoutingRules::compile(config).context(
                "the inbox configuration ([[team]], [[routing.rule]], [sla]) is not valid",
            )?,
        ))),
    };
    let router = earshot_engine::inbox::InboxRouter::with_live_rules(store, live)
        .await
        .context("cannot start the inbox router")?;
    Ok(pipeline.with_inbox(Arc::new(router)))
}

async fn fetch(workspace: &Workspace, only: Option<&str>) -> Result<ExitCode> {
    let store = workspace.open_store().await?;
    let (config, pipeline) = pipeline_for(workspace, store).await?;
    let http = HttpClient::new(HTTP_TIMEOUT)?;
    let selected: Vec<&SourceConfig> = config
        .sources
        .iter()
        .filter(|s| only.is_none_or(|name| s.name == name))
        .collect();
    if let Some(name) = only {
        if selected.is_empty() {
            bail!("no source named {name:?} (earshot source list)");
        }
    }
    let mut failed = 0;
    for source_config in selected {
        let source = match build_source(source_config, &http) {
            Ok(source) => source,
            Err(error) => {
                eprintln!("{error}");
                failed += 1;
                continue;
            }
        };
        match poll_source_once(&pipeline, source.as_ref()).await {
            Ok(report) => {
                for warning in &report.warnings {
                    eprintln!("warning: {warning}");
                }
                println!(
                    "{}: {} items, {} new mentions, {} updated, {} not matching any brand",
                    report.source,
                    report.ingest.seen,
                    report.ingest.inserted,
                    report.ingest.updated,
                    report.ingest.unmatched
                );
            }
            Err(error) => {
                eprintln!("error: {error}");
                failed += 1;
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Where an import reads from: a file (its size drives the progress bar) or stdin.
pub fn open_input(path: &Path) -> Result<(Box<dyn Read + Send>, Option<u64>, String)> {
    if path == Path::new("-") {
        return Ok((Box::new(std::io::stdin()), None, "stdin".to_string()));
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().ok().map(|m| m.len());
    Ok((Box::new(file), size, path.display().to_string()))
}

fn parse_columns(specs: &[String]) -> Result<CsvColumns> {
    let mut columns = CsvColumns::default();
    for spec in specs {
        let (field, header) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--column {spec:?}: expected FIELD=HEADER, e.g. text=body"))?;
        columns
            .set(field.trim(), header.trim())
            .map_err(|error| anyhow!("--column {spec:?}: {error}"))?;
    }
    Ok(columns)
}

pub async fn import(workspace: &Workspace, args: ImportArgs) -> Result<ExitCode> {
    let store = workspace.open_store().await?;
    let (_, pipeline) = pipeline_for(workspace, store).await?;
    let format = args.format.unwrap_or_else(|| {
        let is_csv = args
            .file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if is_csv {
            FormatArg::Csv
        } else {
            FormatArg::Jsonl
        }
    });
    let (reader, size, label) = open_input(&args.file)?;
    let bar = Progress::bytes("import", size);
    let reader = bar.wrap_read(reader);
    // The file name is the source of lines that name none (a URL identifies them).
    let source_label = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "import".into());
    let source_label = if label == "stdin" {
        "import".to_string()
    } else {
        source_label
    };
    let items: Box<dyn Iterator<Item = Result<IncomingMention, String>> + Send> = match format {
        FormatArg::Jsonl => {
            let lines = files::read_jsonl(BufReader::with_capacity(1 << 20, reader), &source_label);
            let label = label.clone();
            Box::new(lines.map(move |r| r.map_err(|e| format!("{label}: {e}"))))
        }
        FormatArg::Csv => {
            let columns = parse_columns(&args.columns)?;
            let rows = files::read_csv(reader, &source_label, &columns)
                .map_err(|error| anyhow!("{label}: {error}"))?;
            let label = label.clone();
            Box::new(rows.map(move |r| r.map_err(|e| format!("{label}: {e}"))))
        }
    };
    let started = std::time::Instant::now();
    let report = import_items(pipeline, items, Arc::new(bar.clone())).await;
    bar.finish();
    let report = report.with_context(|| format!("{label}: import stopped"))?;
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    println!(
        "{label}: {} lines read, {} new mentions, {} updated, {} copies of earlier mentions, {} matching no brand, {} bad lines ({:.0} lines/s)",
        report.ingest.seen + report.error_count,
        report.ingest.inserted,
        report.ingest.updated,
        report.ingest.near_duplicates,
        report.ingest.unmatched,
        report.error_count,
        (report.ingest.seen + report.error_count) as f64 / elapsed,
    );
    Ok(if report.error_count == 0 {
        ExitCode::SUCCESS
    } else {
        // Partial success: the good lines are stored; the exit status tells scripts to look.
        ExitCode::from(3)
    })
}

fn parse_time(value: &str, end_of_day: bool) -> Result<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|_| anyhow!("{value:?} is neither an RFC 3339 time nor a YYYY-MM-DD date"))?;
    let time = if end_of_day {
        date.and_hms_micro_opt(23, 59, 59, 999_999)
    } else {
        date.and_hms_opt(0, 0, 0)
    }
    .expect("valid time of day");
    Ok(time.and_utc())
}

fn filter_from(args: &FilterArgs, query: Option<String>) -> Result<MentionFilter> {
    Ok(MentionFilter {
        query,
        brand: args.brand.clone(),
        lang: args.lang.clone(),
        source: args.source.clone(),
        since: args
            .since
            .as_deref()
            .map(|s| parse_time(s, false))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|s| parse_time(s, true))
            .transpose()?,
        hide_duplicates: args.hide_duplicates,
        sentiment: args.sentiment.map(|s| s.as_str().to_owned()),
        intent: args.intent.map(|i| i.as_str().to_owned()),
        hide_spam: args.hide_spam,
    })
}

async fn export(workspace: &Workspace, filters: &FilterArgs) -> Result<()> {
    let store = workspace.open_store().await?;
    let filter = filter_from(filters, None)?;
    let total = store.stats().await.map(|s| s.mentions).ok();
    let bar = Progress::items("export", total);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut cursor: Option<String> = None;
    let mut written = 0u64;
    loop {
        let page = store
            .search(&filter, SortOrder::Newest, cursor.as_deref(), 1_000)
            .await?;
        for mention in &page.mentions {
            serde_json::to_writer(&mut out, &InterchangeMention::from(mention))?;
            out.write_all(b"\n")?;
        }
        written += page.mentions.len() as u64;
        bar.set_position(written);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    out.flush()?;
    bar.finish();
    if !std::io::stdout().is_terminal() {
        eprintln!("exported {written} mentions");
    }
    Ok(())
}

async fn search(
    workspace: &Workspace,
    query: String,
    filters: &FilterArgs,
    limit: usize,
    sort: SortArg,
    json: bool,
) -> Result<()> {
    let store = workspace.open_store().await?;
    let filter = filter_from(filters, Some(query))?;
    let sort = match sort {
        SortArg::Newest => SortOrder::Newest,
        SortArg::Relevance => SortOrder::Relevance,
    };
    let page = store.search(&filter, sort, None, limit.max(1)).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for mention in &page.mentions {
        if json {
            serde_json::to_writer(&mut out, &InterchangeMention::from(mention))?;
            writeln!(out)?;
        } else {
            let author = mention
                .author
                .as_ref()
                .and_then(|a| a.handle.clone().or(a.name.clone()))
                .unwrap_or_else(|| "unknown".into());
            writeln!(
                out,
                "#{} {} {} [{}] {} — {}",
                mention.id,
                mention.published_at.format("%Y-%m-%d %H:%M"),
                mention.source,
                mention.lang,
                progress::terminal_safe(&author),
                mention.brands.join(", ")
            )?;
            let text: String = mention.text.chars().take(280).collect();
            writeln!(out, "    {}", progress::terminal_safe(&text))?;
            if let Some(url) = &mention.url {
                writeln!(out, "    {}", progress::terminal_safe(url))?;
            }
        }
    }
    if !json && page.mentions.is_empty() {
        eprintln!("no mentions found");
    }
    Ok(())
}

async fn reindex(workspace: &Workspace) -> Result<()> {
    let store = workspace.open_store().await?;
    let bar = Progress::items("reindex", None);
    let progress_bar = bar.clone();
    let count = store
        .reindex(&move |done, total| {
            progress_bar.set_length(total);
            progress_bar.set_position(done);
        })
        .await?;
    bar.finish();
    println!("reindexed {count} mentions");
    Ok(())
}

/// Mentions analysed per store transaction by `reanalyze`.
const REANALYZE_BATCH: usize = 1_000;

/// Every stored mention analysed again, oldest first, in batches: the language it was stored
/// with (detected at ingest) and its brands as targets, as the ingest pipeline does. Prints how
/// many mentions now have another sentiment label than before.
async fn reanalyze(workspace: &Workspace) -> Result<()> {
    let config = workspace.load_config()?;
    let matcher = earshot_text::BrandMatcher::new(&config.brands)?;
    let targets: std::collections::HashMap<&str, earshot_analysis::Target> = config
        .brands
        .iter()
        .map(|brand| {
            let spellings = matcher.spellings(&brand.name);
            (
                brand.name.as_str(),
                earshot_analysis::Target::new(&brand.name, spellings),
            )
        })
        .collect();
    let analyzer = crate::models::load_for_analysis(Some(&workspace.dir))?;
    let store = workspace.open_store().await?;
    let total = store.stats().await?.mentions;
    let bar = Progress::items("reanalyze", Some(total));
    let mut scratch = analyzer.scratch();
    let (mut done, mut changed) = (0u64, 0u64);
    let mut after = earshot_core::MentionId(0);
    loop {
        let mentions = store.since_id(after, REANALYZE_BATCH).await?;
        let Some(last) = mentions.last() else {
            break;
        };
        after = last.id;
        let analyses: Vec<(earshot_core::MentionId, earshot_core::Analysis)> = mentions
            .iter()
            .map(|mention| {
                let brands: Vec<&earshot_analysis::Target> = mention
                    .brands
                    .iter()
                    .filter_map(|name| targets.get(name.as_str()))
                    .collect();
                let analysis = analyzer.analyze_detected_targets(
                    &mut scratch,
                    &mention.text,
                    &mention.lang,
                    &brands,
                );
                let label = |a: Option<&earshot_core::Analysis>| {
                    a.and_then(|a| a.sentiment.as_ref().map(|s| s.label.to_string()))
                };
                if label(mention.analysis.as_ref()) != label(Some(&analysis)) {
                    changed += 1;
                }
                (mention.id, analysis)
            })
            .collect();
        done += store.replace_analyses(&analyses).await?;
        bar.set_position(done);
    }
    bar.finish();
    println!(
        "re-analysed {done} mentions; {changed} have another sentiment than before (corrections are kept and still shown first)"
    );
    Ok(())
}

/// Start the web server (and the scheduler when `poll`); returns when Ctrl-C is pressed.
pub async fn serve(workspace: &Workspace, addr: Option<String>, poll: bool) -> Result<()> {
    let mut config = workspace.load_config()?;
    let store = workspace.open_store().await?;
    if store.user_count().await? == 0 {
        eprintln!(
            "No users yet, so nobody can sign in. Create one:\n  \
             earshot user add NAME --role admin            (password from stdin)\n  \
             earshot user add NAME --role admin --invite   (prints a one-time link)"
        );
    }
    let addr = addr.unwrap_or_else(|| config.server.addr.clone());
    // Short links without `[links] base_url` point at the address actually served.
    config.server.addr = addr.clone();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let shutdown = CancellationToken::new();
    // One set of routing rules for the scheduler's ingest and the web's rules editor, which
    // replaces it on save; the teams are in the store from the start, for team moves.
    let live_rules = Arc::new(earshot_engine::inbox::LiveRules::new(Arc::new(
        earshot_engine::inbox::RoutingRules::compile(&config)
            .context("the inbox configuration ([[team]], [[routing.rule]], [sla]) is not valid")?,
    )));
    store
        .upsert_teams(&live_rules.current().team_records())
        .await
        .context("cannot store the inbox teams")?;
    let scheduler = if poll && config.server.poll && !config.sources.is_empty() {
        Some(
            start_scheduler(
                workspace,
                &config,
                store.clone(),
                shutdown.clone(),
                live_rules.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    let mut background = start_inbox_tasks(&config, store.clone(), shutdown.clone())?;
    background.extend(crate::publishing::start_publishing_tasks(
        workspace,
        &config,
        store.clone(),
        shutdown.clone(),
    )?);
    serve_routing_until_ctrl_c(
        workspace,
        config,
        store,
        listener,
        shutdown,
        Some(live_rules),
    )
    .await?;
    if let Some(handle) = scheduler {
        let _ = handle.await;
    }
    for handle in background {
        let _ = handle.await;
    }
    Ok(())
}

/// How often replies are handed to the outbox and their outcome brought back.
const REPLY_BRIDGE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// How often the outbox looks for due messages when it found none.
const OUTBOX_IDLE: std::time::Duration = std::time::Duration::from_secs(1);
const SLA_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The inbox's background work beside the web server: the outbox worker (replies, webhooks,
/// e-mail), the bridge from inbox replies to the outbox and back, and the SLA checker whose
/// escalations go out through the outbox.
fn start_inbox_tasks(
    config: &Config,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let http = HttpClient::new(HTTP_TIMEOUT)?;
    let worker = earshot_engine::outbox::OutboxWorker::from_config(store.clone(), http, config)
        .context("the [outbox] configuration is not valid")?;
    let rules = Arc::new(
        earshot_engine::inbox::RoutingRules::compile(config)
            .context("the inbox configuration ([[team]], [[routing.rule]], [sla]) is not valid")?,
    );
    let bridge = earshot_engine::replies::ReplyBridge::new(
        store.clone(),
        Arc::new(std::sync::RwLock::new(config.clone())),
    );
    let mut handles = Vec::new();
    let stop = shutdown.clone();
    handles.push(tokio::spawn(
        async move { worker.run(stop, OUTBOX_IDLE).await },
    ));
    let stop = shutdown.clone();
    handles.push(tokio::spawn(async move {
        bridge.run(stop, REPLY_BRIDGE_EVERY).await
    }));
    let (escalations, mut received) = tokio::sync::mpsc::channel(64);
    let stop = shutdown.clone();
    let checker_store = store.clone();
    handles.push(tokio::spawn(async move {
        earshot_engine::inbox::run_sla_checker(
            checker_store,
            rules,
            SLA_CHECK_EVERY,
            Arc::new(chrono::Utc::now),
            escalations,
            stop,
        )
        .await
    }));
    let settings = earshot_engine::inbox::EscalationSettings::from_config(config);
    handles.push(tokio::spawn(async move {
        while let Some(escalation) = received.recv().await {
            let queued = earshot_engine::inbox::enqueue_escalation(
                store.as_ref(),
                &settings,
                &escalation,
                chrono::Utc::now(),
            )
            .await;
            if let Err(error) = queued {
                eprintln!("cannot queue the SLA escalation: {error}");
            }
        }
    }));
    Ok(handles)
}

async fn start_scheduler(
    workspace: &Workspace,
    config: &Config,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
    live_rules: Arc<earshot_engine::inbox::LiveRules>,
) -> Result<tokio::task::JoinHandle<()>> {
    let (_, pipeline) = pipeline_routing_by(workspace, store, Some(live_rules)).await?;
    let http = HttpClient::new(HTTP_TIMEOUT)?;
    let mut scheduled = Vec::new();
    for source in &config.sources {
        match build_source(source, &http) {
            Ok(built) => scheduled.push(Scheduled {
                source: Arc::from(built),
                interval: std::time::Duration::from_secs(source.interval_secs.max(10)),
            }),
            Err(error) => eprintln!("not polling: {error}"),
        }
    }
    let scheduler = Scheduler::new(pipeline, scheduled);
    Ok(tokio::spawn(scheduler.run(shutdown)))
}

/// Serve; `live_rules` are the rules the server's own ingest routes by, which the rules
/// editor replaces when it saves.
pub(crate) async fn serve_routing_until_ctrl_c(
    workspace: &Workspace,
    config: Config,
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
    live_rules: Option<Arc<earshot_engine::inbox::LiveRules>>,
) -> Result<()> {
    let local = listener.local_addr()?;
    let state = earshot_web::WebState {
        store,
        config: Arc::new(std::sync::RwLock::new(config)),
        workspace: workspace.dir.clone(),
        live_rules,
        analyzer: Arc::new(crate::models::load(Some(&workspace.dir))?.analyzer),
    };
    println!("Earshot is listening on http://{local}/");
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    let server_shutdown = shutdown.clone();
    earshot_web::serve(
        listener,
        state,
        async move { server_shutdown.cancelled().await },
    )
    .await
    .context("web server failed")?;
    shutdown.cancel();
    Ok(())
}
