//! Pre-publish checks: each with a case that passes, one that warns and one that blocks (per
//! `[publishing.checks]`), and the guarded approve/schedule steps on a real SQLite store.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use earshot_analysis::Analyzer;
use earshot_core::{
    Account, AccountId, AccountStatus, Actor, BrandConfig, CheckMode, Config, Network, PostAction,
    PostState, PublishingConfig, Role, Scored, VariantDraft,
};
use earshot_engine::publishing::checks::{self, CheckInput, CheckName, VariantFacts, Verdict};
use earshot_engine::publishing::{self, PublishingError};
use earshot_store::{publishing_testsuite::new_account, PublishingStore, SqliteStore};
use earshot_text::BrandMatcher;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 9, 0, 0).unwrap()
}

fn account(name: &str, network: Network, languages: &[&str]) -> Account {
    Account {
        id: AccountId(1),
        network,
        name: name.into(),
        handle: format!("@{name}@social.example"),
        server_url: "https://social.example".into(),
        owner: "olga".into(),
        purpose: "news".into(),
        languages: languages.iter().map(|l| l.to_string()).collect(),
        status: AccountStatus::Active,
        last_check_at: None,
        last_error: None,
        posts_per_day: 2,
        approval_steps: vec![],
        created_at: t0(),
    }
}

fn facts<'a>(account: &'a Account, text: &'a str) -> VariantFacts<'a> {
    VariantFacts {
        account,
        text,
        media_count: 0,
        offensive: None,
        recent_texts: vec![],
        posts_same_day: 0,
        overdue_conversations: 0,
        published_text: None,
    }
}

fn brands() -> BrandMatcher {
    BrandMatcher::new(&[BrandConfig {
        name: "Zeltron".into(),
        queries: vec!["zeltron".into()],
        competitor: false,
    }])
    .unwrap()
}

fn config_with(mode: CheckMode) -> PublishingConfig {
    let mut config = PublishingConfig {
        banned_terms: vec!["crème brûlée scam".into(), "idiots".into()],
        own_domains: vec!["zeltron.example".into()],
        ..PublishingConfig::default()
    };
    config.checks.policy = mode;
    config.checks.language = mode;
    config.checks.self_promotion = mode;
    config.checks.automation = mode;
    config.checks.tracking = mode;
    config
}

fn run(
    check: fn(&CheckInput<'_>) -> checks::CheckResult,
    config: &PublishingConfig,
    variants: Vec<VariantFacts<'_>>,
    scheduled_at: Option<DateTime<Utc>>,
) -> checks::CheckResult {
    let brands = brands();
    check(&CheckInput {
        variants,
        config,
        our_brands: &brands,
        scheduled_at,
    })
}

const FRIENDLY: &str = "How do you keep your bicycle chain clean in winter? Tell us your tricks";

#[test]
fn policy_banned_terms_are_found_folded() {
    let shop = account("shop", Network::Mastodon, &["en"]);
    let pass = run(
        checks::policy,
        &config_with(CheckMode::Block),
        vec![facts(&shop, FRIENDLY)],
        None,
    );
    assert_eq!(pass.verdict, Verdict::Pass, "{}", pass.explanation);
    // Case and accents do not evade the list.
    let text = "Not a CREME Brulee SCAM, promise";
    let blocked = run(
        checks::policy,
        &config_with(CheckMode::Block),
        vec![facts(&shop, text)],
        None,
    );
    assert_eq!(blocked.verdict, Verdict::Block);
    assert!(
        blocked.explanation.contains("crème brûlée scam"),
        "{}",
        blocked.explanation
    );
    assert!(blocked.explanation.contains("shop"));
    let warned = run(
        checks::policy,
        &config_with(CheckMode::Warn),
        vec![facts(&shop, text)],
        None,
    );
    assert_eq!(warned.verdict, Verdict::Warn);
    // A word that merely contains a banned one is not it.
    let inside = run(
        checks::policy,
        &config_with(CheckMode::Block),
        vec![facts(&shop, "idiotsyncratic")],
        None,
    );
    assert_eq!(inside.verdict, Verdict::Pass);
}

#[test]
fn policy_uses_the_offensive_model_score() {
    let shop = account("shop", Network::Mastodon, &["en"]);
    let mut rude = facts(&shop, "some text");
    rude.offensive = Some(Scored {
        label: "OFF".into(),
        score: 0.93,
    });
    let blocked = run(
        checks::policy,
        &config_with(CheckMode::Block),
        vec![rude.clone()],
        None,
    );
    assert_eq!(blocked.verdict, Verdict::Block);
    assert!(
        blocked.explanation.contains("0.93"),
        "{}",
        blocked.explanation
    );
    rude.offensive = Some(Scored {
        label: "OFF".into(),
        score: 0.55,
    });
    assert_eq!(
        run(
            checks::policy,
            &config_with(CheckMode::Block),
            vec![rude.clone()],
            None
        )
        .verdict,
        Verdict::Pass
    );
    rude.offensive = Some(Scored {
        label: "NOT".into(),
        score: 0.99,
    });
    assert_eq!(
        run(
            checks::policy,
            &config_with(CheckMode::Block),
            vec![rude],
            None
        )
        .verdict,
        Verdict::Pass
    );
}

#[test]
fn language_compares_with_the_audience() {
    let english = account("shop-en", Network::Mastodon, &["en"]);
    let pass = run(
        checks::language,
        &config_with(CheckMode::Warn),
        vec![facts(&english, FRIENDLY)],
        None,
    );
    assert_eq!(pass.verdict, Verdict::Pass, "{}", pass.explanation);
    let russian = "Как вы чистите цепь велосипеда зимой? Расскажите нам о своих хитростях";
    let warned = run(
        checks::language,
        &config_with(CheckMode::Warn),
        vec![facts(&english, russian)],
        None,
    );
    assert_eq!(warned.verdict, Verdict::Warn);
    assert!(
        warned.explanation.contains("reads as ru"),
        "{}",
        warned.explanation
    );
    assert!(warned.explanation.contains("shop-en"));
    let blocked = run(
        checks::language,
        &config_with(CheckMode::Block),
        vec![facts(&english, russian)],
        None,
    );
    assert_eq!(blocked.verdict, Verdict::Block);
}

#[test]
fn self_promotion_counts_the_recent_share() {
    let shop = account("shop", Network::Mastodon, &["en"]);
    let promo = "Zeltron bikes: big sale this week only";
    assert!(checks::is_promotional(
        promo,
        &brands(),
        &config_with(CheckMode::Warn)
    ));
    // A question, a mention or a third-party link make it a conversation, not an ad.
    assert!(!checks::is_promotional(
        "Zeltron riders: which trail next?",
        &brands(),
        &config_with(CheckMode::Warn)
    ));
    assert!(!checks::is_promotional(
        "Zeltron congratulates @ana@bikes.example",
        &brands(),
        &config_with(CheckMode::Warn)
    ));
    assert!(!checks::is_promotional(
        "Great read on bike safety https://news.example/a?utm_source=x",
        &brands(),
        &config_with(CheckMode::Warn)
    ));

    let mut balanced = facts(&shop, promo);
    balanced.recent_texts = vec![FRIENDLY.into(), "What do you ride?".into(), promo.into()];
    let pass = run(
        checks::self_promotion,
        &config_with(CheckMode::Warn),
        vec![balanced],
        None,
    );
    assert_eq!(pass.verdict, Verdict::Pass, "{}", pass.explanation);
    assert!(
        pass.explanation.contains("2 of the last 4"),
        "{}",
        pass.explanation
    );
    let mut pushy = facts(&shop, promo);
    pushy.recent_texts = vec![
        promo.into(),
        "Order now at https://zeltron.example/shop".into(),
        FRIENDLY.into(),
    ];
    let warned = run(
        checks::self_promotion,
        &config_with(CheckMode::Warn),
        vec![pushy.clone()],
        None,
    );
    assert_eq!(warned.verdict, Verdict::Warn);
    assert!(
        warned.explanation.contains("3 of the last 4"),
        "{}",
        warned.explanation
    );
    let blocked = run(
        checks::self_promotion,
        &config_with(CheckMode::Block),
        vec![pushy],
        None,
    );
    assert_eq!(blocked.verdict, Verdict::Block);
}

#[test]
fn automation_finds_copies_rate_and_waiting_customers() {
    let one = account("shop-m", Network::Mastodon, &["en"]);
    let two = account("shop-b", Network::Bluesky, &["en"]);
    let at = Some(t0());
    let pass = run(
        checks::automation,
        &config_with(CheckMode::Warn),
        vec![
            facts(&one, FRIENDLY),
            facts(&two, "Winter chain care: your tips?"),
        ],
        at,
    );
    assert_eq!(pass.verdict, Verdict::Pass, "{}", pass.explanation);
    // The same words with other case and spacing are still the same text.
    let copies = run(
        checks::automation,
        &config_with(CheckMode::Warn),
        vec![facts(&one, FRIENDLY), facts(&two, &FRIENDLY.to_uppercase())],
        at,
    );
    assert_eq!(copies.verdict, Verdict::Warn);
    assert!(
        copies.explanation.contains("shop-m and shop-b"),
        "{}",
        copies.explanation
    );
    let mut busy = facts(&one, FRIENDLY);
    busy.posts_same_day = 2;
    let rate = run(
        checks::automation,
        &config_with(CheckMode::Block),
        vec![busy.clone()],
        at,
    );
    assert_eq!(rate.verdict, Verdict::Block);
    assert!(
        rate.explanation
            .contains("3 times that day; its limit is 2"),
        "{}",
        rate.explanation
    );
    // Without a time the daily rate cannot be judged yet.
    assert_eq!(
        run(
            checks::automation,
            &config_with(CheckMode::Block),
            vec![busy],
            None
        )
        .verdict,
        Verdict::Pass
    );
    let mut waiting = facts(&one, FRIENDLY);
    waiting.overdue_conversations = 3;
    let sla = run(
        checks::automation,
        &config_with(CheckMode::Warn),
        vec![waiting],
        None,
    );
    assert_eq!(sla.verdict, Verdict::Warn);
    assert!(
        sla.explanation.contains("3 conversation(s) past their SLA"),
        "{}",
        sla.explanation
    );
}

#[test]
fn tracking_wants_utm_or_short_links() {
    let shop = account("shop", Network::Mastodon, &["en"]);
    let tracked = "See https://zeltron.example/winter?utm_source=mastodon&utm_campaign=w and https://earshot.example/l/abc12";
    let pass = run(
        checks::tracking,
        &config_with(CheckMode::Warn),
        vec![facts(&shop, tracked)],
        None,
    );
    assert_eq!(pass.verdict, Verdict::Pass, "{}", pass.explanation);
    assert!(pass.explanation.contains("2 link(s)"));
    let bare = "See https://zeltron.example/winter?ref=home.";
    let warned = run(
        checks::tracking,
        &config_with(CheckMode::Warn),
        vec![facts(&shop, bare)],
        None,
    );
    assert_eq!(warned.verdict, Verdict::Warn);
    assert!(
        warned
            .explanation
            .contains("https://zeltron.example/winter?ref=home"),
        "{}",
        warned.explanation
    );
    assert_eq!(
        run(
            checks::tracking,
            &config_with(CheckMode::Block),
            vec![facts(&shop, bare)],
            None
        )
        .verdict,
        Verdict::Block
    );
    let off = run(
        checks::tracking,
        &config_with(CheckMode::Off),
        vec![facts(&shop, bare)],
        None,
    );
    assert_eq!(off.verdict, Verdict::Pass);
    assert!(off.explanation.contains("off by policy"));
}

#[test]
fn network_rules_always_block() {
    let shop = account("shop", Network::Bluesky, &["en"]);
    let long = "word ".repeat(70);
    let mut many = facts(&shop, "ok");
    many.media_count = 5;
    let result = run(
        checks::network_rules,
        &config_with(CheckMode::Off),
        vec![facts(&shop, &long), many],
        None,
    );
    assert_eq!(result.verdict, Verdict::Block);
    assert!(
        result.explanation.contains("350 graphemes"),
        "{}",
        result.explanation
    );
    assert!(
        result.explanation.contains("5 media"),
        "{}",
        result.explanation
    );
    assert_eq!(result.check, CheckName::NetworkRules);
}

#[tokio::test]
async fn approval_and_scheduling_stop_at_a_blocking_check() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let account = store
        .create_account(new_account("guarded", Network::Mastodon, &[]), t0())
        .await
        .unwrap();
    let mut config = Config::default();
    config.publishing.banned_terms = vec!["guaranteed returns".into()];
    let analyzer = Analyzer::rules_only();
    let author = Actor::new("anna", Role::Agent, vec![]);
    let reviewer = Actor::new("rita", Role::Agent, vec![]);
    let bad = store
        .create_post(
            "Bad",
            "anna",
            &[VariantDraft {
                account: account.id,
                text: "Guaranteed RETURNS for everyone".into(),
                media: vec![],
            }],
            t0(),
        )
        .await
        .unwrap();
    store
        .transition_post(bad.post.id, &author, &PostAction::Submit, t0())
        .await
        .unwrap();
    let err = publishing::approve(
        store.as_ref(),
        &config,
        &analyzer,
        &reviewer,
        bad.post.id,
        t0(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PublishingError::Blocked { .. }));
    assert!(err.to_string().contains("guaranteed returns"), "{err}");
    assert_eq!(
        store.post(bad.post.id).await.unwrap().unwrap().post.state,
        PostState::InReview
    );

    let good = store
        .create_post(
            "Good",
            "anna",
            &[VariantDraft {
                account: account.id,
                text: FRIENDLY.into(),
                media: vec![],
            }],
            t0(),
        )
        .await
        .unwrap();
    let id = good.post.id;
    store
        .transition_post(id, &author, &PostAction::Submit, t0())
        .await
        .unwrap();
    publishing::approve(store.as_ref(), &config, &analyzer, &reviewer, id, t0())
        .await
        .unwrap();
    let past = publishing::schedule(
        store.as_ref(),
        &config,
        &analyzer,
        &author,
        id,
        t0() - Duration::hours(1),
        t0(),
    )
    .await
    .unwrap_err();
    assert!(past.to_string().contains("has passed"), "{past}");
    store
        .set_account_status(account.id, AccountStatus::Paused)
        .await
        .unwrap();
    let paused = publishing::schedule(
        store.as_ref(),
        &config,
        &analyzer,
        &author,
        id,
        t0() + Duration::hours(1),
        t0(),
    )
    .await
    .unwrap_err();
    assert!(paused.to_string().contains("paused"), "{paused}");
    store
        .set_account_status(account.id, AccountStatus::Active)
        .await
        .unwrap();
    let scheduled = publishing::schedule(
        store.as_ref(),
        &config,
        &analyzer,
        &author,
        id,
        t0() + Duration::hours(1),
        t0(),
    )
    .await
    .unwrap();
    assert_eq!(scheduled.post.state, PostState::Scheduled);
}

/// With `[links] track_posts` (the default) the tracking check says the links will be
/// tracked, and the network's length rule sees the text as it will go out: a long link that
/// breaks Bluesky's 300 graphemes passes once it is a short link; turned off, the same link is
/// an untracked link and too long.
#[tokio::test]
async fn checks_see_the_text_as_published_when_links_are_tracked() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let account = store
        .create_account(new_account("sky", Network::Bluesky, &[]), t0())
        .await
        .unwrap();
    let analyzer = Analyzer::rules_only();
    let long_link = format!("https://zeltron.example/{}", "spring-sale/".repeat(30));
    let text = format!("How do you keep your chain clean in winter? {long_link}");
    let variants = [publishing::DraftVariant {
        account: account.id,
        text: text.clone(),
        media_count: 0,
    }];
    let find = |results: &[checks::CheckResult], name: CheckName| {
        results.iter().find(|r| r.check == name).unwrap().clone()
    };

    let mut config = Config::default();
    config.links.base_url = Some("https://go.zeltron.example".into());
    let tracked =
        publishing::check_variants(store.as_ref(), &config, &analyzer, None, &variants, None)
            .await
            .unwrap();
    let rules = find(&tracked, CheckName::NetworkRules);
    assert_eq!(rules.verdict, Verdict::Pass, "{}", rules.explanation);
    let tracking = find(&tracked, CheckName::Tracking);
    assert_eq!(tracking.verdict, Verdict::Pass, "{}", tracking.explanation);
    assert!(
        tracking
            .explanation
            .contains("1 of 1 link(s) become Earshot short links"),
        "{}",
        tracking.explanation
    );

    config.links.track_posts = Some(false);
    let untracked =
        publishing::check_variants(store.as_ref(), &config, &analyzer, None, &variants, None)
            .await
            .unwrap();
    assert_eq!(
        find(&untracked, CheckName::NetworkRules).verdict,
        Verdict::Block
    );
    let tracking = find(&untracked, CheckName::Tracking);
    assert_eq!(tracking.verdict, Verdict::Warn);
    assert!(
        tracking.explanation.contains(&long_link),
        "{}",
        tracking.explanation
    );
}
