//! The `earshot` command line.

mod analyze;
mod bench;
mod campaigns;
mod commands;
mod demo;
mod generate;
mod models;
mod progress;
mod publishing;
mod training;
mod users;
mod workspace;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Import and analysis allocate many short-lived strings on several threads at once; glibc's
/// allocator spent about a sixth of an import's CPU time in malloc/free (perf, 1M mentions).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "earshot",
    version,
    about = "Listen to what people say about your brand, and answer."
)]
struct Cli {
    /// Workspace directory (default: $EARSHOT_DIR, else the current directory).
    #[arg(long, global = true, env = "EARSHOT_DIR")]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a workspace: earshot.toml and the database.
    Init,
    /// Brands (ours and competitors') and the queries that find their mentions.
    Brand {
        #[command(subcommand)]
        action: BrandAction,
    },
    /// Places to listen: feeds, Mastodon, Bluesky.
    Source {
        #[command(subcommand)]
        action: SourceAction,
    },
    /// Poll every source (or one) once and store what matches.
    Fetch {
        #[arg(long)]
        source: Option<String>,
    },
    /// Import mentions from JSON Lines or CSV (`-` reads stdin).
    Import(ImportArgs),
    /// Write mentions as JSON Lines (the interchange format) to stdout.
    Export {
        #[command(flatten)]
        filters: FilterArgs,
    },
    /// Full-text search over stored mentions.
    Search {
        /// Query: words, "exact phrases", prefix*, AND, OR, NOT, parentheses.
        query: String,
        #[command(flatten)]
        filters: FilterArgs,
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = SortArg::Newest)]
        sort: SortArg,
        /// Write JSON Lines in the interchange format.
        #[arg(long)]
        json: bool,
    },
    /// Run the web interface and poll sources on their intervals.
    Serve {
        /// Address to listen on (default: server.addr in earshot.toml).
        #[arg(long)]
        addr: Option<String>,
        /// Serve without polling sources.
        #[arg(long)]
        no_poll: bool,
    },
    /// Try Earshot on a fictional brand: a temporary workspace, a live stream of demo mentions, the web UI.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Mentions replayed per second after the initial load (0: no replay).
        #[arg(long, default_value_t = 1.0)]
        rate: f64,
        /// Keep the workspace here instead of a temporary directory.
        #[arg(long)]
        keep: Option<PathBuf>,
    },
    /// People who sign in to the web interface, and their roles.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// API bearer tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Official accounts that Earshot publishes through (credentials encrypted at rest).
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Posts: draft, submit, approve, reject, schedule (see docs/PUBLISHING.md).
    Post {
        #[command(subcommand)]
        command: PostCommand,
    },
    /// Tracked short links (`/l/CODE`) with UTM parameters.
    Link {
        #[command(subcommand)]
        action: campaigns::LinkAction,
    },
    /// Campaigns: goal, target, budget, dates, spend, and the ROI report.
    Campaign {
        #[command(subcommand)]
        action: campaigns::CampaignAction,
    },
    /// The conversions API (`POST /api/conversions`): its signing secret.
    Conversions {
        #[command(subcommand)]
        action: campaigns::ConversionsAction,
    },
    /// Rebuild the search index from the database.
    Reindex,
    /// Analyse every stored mention again with the models in use now (after `model train`
    /// wrote a workspace model, or new built-in ones); corrections are kept.
    Reanalyze,
    /// Analyse JSON Lines (`text` required, `lang` and `targets` optional): each line is written
    /// to stdout with an added `analysis` object (sentiment, offensive, spam, intents, targets).
    Analyze {
        /// File to read, or `-` for stdin.
        #[arg(default_value = "-")]
        file: PathBuf,
        /// Also add an `explain` object: the language the text was read as, each model's
        /// probability for every label, and the rules' cues found (docs/MODELS.md).
        #[arg(long)]
        explain: bool,
    },
    /// Train, evaluate and list the analysis models (see docs/MODELS.md).
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Measure import and search speed against SQLite FTS5 (see docs/BENCHMARKS.md).
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum ModelAction {
    /// Train a model on data folders (train.jsonl; test*.jsonl are measured) and save it.
    Train {
        /// sentiment, offensive, spam or complaint (another name keeps the data's own labels).
        #[arg(long)]
        task: String,
        /// Data folder(s); their training examples are concatenated.
        #[arg(long, num_args = 1.., required = true)]
        data: Vec<PathBuf>,
        /// Where to save the model (default: DIR/models/TASK-LANG.esm, used by this workspace).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also learn from this workspace's corrections and report macro-F1 before and after
        /// on the test sets plus a held-out fifth of the corrections.
        #[arg(long)]
        with_corrections: bool,
        /// Weight by the inverse document frequencies over the training texts of these data
        /// folders instead of the model's own (how the shipped English and Russian models share
        /// one IDF table per language; docs/MODELS.md).
        #[arg(long, num_args = 1..)]
        idf_corpus: Vec<PathBuf>,
        /// Let NB log-count-ratio factors compete in the search (how the shipped English
        /// offensive model was trained; docs/MODELS.md, round 10).
        #[arg(long)]
        nb_search: bool,
    },
    /// Measure a model on the test sets (test*.jsonl) of data folders.
    Eval {
        #[arg(long)]
        task: String,
        #[arg(long, num_args = 1.., required = true)]
        data: Vec<PathBuf>,
        /// Model file (default: the one in use for the task and the data's language).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Also write every test example's gold and predicted label here (JSON Lines: set, id,
        /// gold, predicted, score), for error analysis and paired comparisons
        /// (`bench/paired_compare.py`).
        #[arg(long)]
        predictions: Option<PathBuf>,
        /// Measure what `earshot analyze` reports (the models in use together with the cue
        /// rules and the language check) instead of one model alone: sentiment, offensive, spam
        /// and complaint (the `complaint` intent against `other`).
        #[arg(long, conflicts_with = "model")]
        analyzer: bool,
    },
    /// The models in use: task, language, labels, built in or from the workspace, size.
    List,
}

#[derive(Subcommand)]
enum BrandAction {
    /// Add a brand, or another query to an existing brand.
    Add {
        name: String,
        #[arg(long)]
        query: String,
        /// The brand is a competitor's.
        #[arg(long)]
        competitor: bool,
    },
    List,
    Remove {
        name: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserAction {
    /// Add a user; the password is read from stdin, or `--invite` prints a one-time link.
    Add {
        name: String,
        /// admin, manager, agent or viewer.
        #[arg(long)]
        role: earshot_core::Role,
        #[arg(long)]
        display_name: Option<String>,
        /// Print a link (valid 7 days) where the user sets their own password.
        #[arg(long)]
        invite: bool,
        /// Where SLA escalations of the teams this user manages are mailed (name@domain).
        #[arg(long)]
        email: Option<earshot_core::EmailAddress>,
    },
    /// List users: name, role, display name, e-mail address.
    List,
    /// Set (or with --clear remove) the user's e-mail address.
    SetEmail {
        name: String,
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        email: Option<earshot_core::EmailAddress>,
        #[arg(long)]
        clear: bool,
    },
    SetRole {
        name: String,
        role: earshot_core::Role,
    },
    /// Disable a user: their sessions end and their tokens are revoked.
    Disable { name: String },
}

#[derive(Subcommand)]
pub(crate) enum AccountAction {
    /// Register an account. The Mastodon access token or Bluesky app password is read from
    /// $EARSHOT_ACCOUNT_SECRET, else the terminal (no echo) or the first line of stdin.
    Add {
        name: String,
        /// mastodon or bluesky.
        #[arg(long)]
        network: String,
        /// `@shop@mastodon.social` or `shop.bsky.social`.
        #[arg(long)]
        handle: String,
        /// Mastodon server or Bluesky PDS (default https://bsky.social for Bluesky).
        #[arg(long)]
        server: Option<String>,
        /// The user who answers for the account.
        #[arg(long)]
        owner: String,
        #[arg(long)]
        purpose: Option<String>,
        /// Audience language, ISO 639-1 (repeatable; default: the workspace's first language).
        #[arg(long = "language")]
        languages: Vec<String>,
        #[arg(long, default_value_t = 3)]
        posts_per_day: u32,
        /// Approval step: a team name (repeatable, in order; none: one review by anyone else).
        #[arg(long = "step")]
        steps: Vec<String>,
        /// Bluesky: the identifier to sign in with (default: the handle).
        #[arg(long)]
        identifier: Option<String>,
    },
    List,
    /// Remove an account no post uses.
    Remove {
        name: String,
    },
    /// Stop scheduling on the account.
    Pause {
        name: String,
    },
    Resume {
        name: String,
    },
    /// Sign in to the network with the stored credentials and record the account's health.
    Check {
        name: String,
    },
    /// Rotate the master key in master.key: every account's credentials are re-encrypted.
    Rekey,
}

#[derive(Subcommand)]
pub(crate) enum PostCommand {
    /// Create a draft with one variant per account: `--variant ACCOUNT=TEXT` (repeatable).
    Add {
        #[arg(long)]
        title: String,
        /// The user writing it.
        #[arg(long = "as")]
        author: String,
        #[arg(long = "variant", required = true)]
        variants: Vec<String>,
    },
    List {
        #[arg(long)]
        account: Option<String>,
        /// draft, in_review, approved, scheduled, published or failed.
        #[arg(long)]
        state: Option<String>,
    },
    /// Variants, checks, approvals and history.
    Show { id: i64 },
    Submit {
        id: i64,
        #[arg(long = "as")]
        user: String,
    },
    /// Approve the next step (runs the checks; a blocking one refuses).
    Approve {
        id: i64,
        #[arg(long = "as")]
        user: String,
    },
    Reject {
        id: i64,
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        comment: String,
    },
    /// Schedule an approved post (RFC 3339 time, e.g. 2026-06-01T09:00:00Z).
    Schedule {
        id: i64,
        #[arg(long = "as")]
        user: String,
        #[arg(long)]
        at: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum TokenAction {
    /// Create a token for USER; it is printed once and stored only hashed.
    Create {
        user: String,
        #[arg(long, default_value = "api")]
        name: String,
    },
    List,
    Revoke {
        id: i64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Feed,
    Mastodon,
    Bluesky,
}

#[derive(Subcommand)]
enum SourceAction {
    Add {
        name: String,
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Feed URL; Mastodon server; Bluesky service (default https://bsky.social).
        #[arg(long)]
        url: Option<String>,
        /// Seconds between polls.
        #[arg(long, default_value_t = 300)]
        interval: u64,
        /// Mastodon hashtag to follow (repeatable).
        #[arg(long = "hashtag")]
        hashtags: Vec<String>,
        /// Mastodon or Bluesky search query (repeatable).
        #[arg(long = "search")]
        search: Vec<String>,
        /// Mastodon access token, or env:NAME.
        #[arg(long)]
        token: Option<String>,
        /// Bluesky handle or DID.
        #[arg(long)]
        identifier: Option<String>,
        /// Bluesky app password, or env:NAME.
        #[arg(long)]
        app_password: Option<String>,
        /// Do not follow posts' comment feeds.
        #[arg(long)]
        no_comments: bool,
    },
    List,
    Remove {
        name: String,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum FormatArg {
    Jsonl,
    Csv,
}

#[derive(Args)]
struct ImportArgs {
    /// File to read, or `-` for stdin.
    file: PathBuf,
    /// Format (default: from the extension; stdin is JSON Lines).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// CSV: map a field to a column header, e.g. `--column text=body` (repeatable).
    #[arg(long = "column", value_name = "FIELD=HEADER")]
    columns: Vec<String>,
}

#[derive(Args, Clone, Default)]
struct FilterArgs {
    #[arg(long)]
    brand: Option<String>,
    #[arg(long)]
    lang: Option<String>,
    #[arg(long)]
    source: Option<String>,
    /// RFC 3339 time or date (YYYY-MM-DD).
    #[arg(long)]
    since: Option<String>,
    #[arg(long)]
    until: Option<String>,
    /// Leave out copies and reposts of earlier mentions.
    #[arg(long)]
    hide_duplicates: bool,
    /// Only this sentiment (a correction counts before the model).
    #[arg(long, value_enum)]
    sentiment: Option<SentimentArg>,
    /// Only mentions with this intent (a correction counts before the model).
    #[arg(long, value_enum)]
    intent: Option<IntentArg>,
    /// Leave out mentions labelled spam.
    #[arg(long)]
    hide_spam: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum SentimentArg {
    Negative,
    Neutral,
    Positive,
}

impl SentimentArg {
    fn as_str(self) -> &'static str {
        match self {
            SentimentArg::Negative => "negative",
            SentimentArg::Neutral => "neutral",
            SentimentArg::Positive => "positive",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum IntentArg {
    Complaint,
    Question,
    Praise,
    #[value(name = "purchase_intent")]
    PurchaseIntent,
    Feedback,
}

impl IntentArg {
    fn as_str(self) -> &'static str {
        match self {
            IntentArg::Complaint => "complaint",
            IntentArg::Question => "question",
            IntentArg::Praise => "praise",
            IntentArg::PurchaseIntent => "purchase_intent",
            IntentArg::Feedback => "feedback",
        }
    }
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SortArg {
    Newest,
    Relevance,
}

fn main() -> std::process::ExitCode {
    // SQLite allocates through mimalloc too (earshot-store's sqlite_memory.rs): set before any
    // thread or connection exists.
    // SAFETY: nothing has opened an SQLite connection yet, and no other thread runs.
    if !unsafe { earshot_store::use_rust_allocator_for_sqlite() } {
        eprintln!("warning: SQLite keeps its own allocator");
    }
    let cli = Cli::parse();
    progress::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the async runtime");
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
