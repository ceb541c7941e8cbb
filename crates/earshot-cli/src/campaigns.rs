//! `earshot link`, `earshot campaign` and `earshot conversions`: tracked links, campaigns with
//! their spend and report, and the signing secret of the conversions API.

use std::io::Write;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use earshot_core::campaigns::{format_basis_points, slug};
use earshot_core::links::UtmParams;
use earshot_core::{Campaign, Currency, Goal, Money, NewCampaign, NewSpend};
use earshot_store::Store;

use crate::workspace::Workspace;

#[derive(Subcommand)]
pub(crate) enum LinkAction {
    /// Create a tracked short link to URL (UTM parameters added); prints the short link.
    Create {
        url: String,
        /// The campaign (name or utm_campaign) the link serves; its utm_campaign is added.
        #[arg(long)]
        campaign: Option<String>,
        #[command(flatten)]
        utm: UtmArgs,
    },
    /// Tracked links, newest first, with their clicks (people / bots) over all days.
    List,
}

#[derive(Args)]
pub(crate) struct UtmArgs {
    #[arg(long)]
    utm_source: Option<String>,
    #[arg(long)]
    utm_medium: Option<String>,
    /// Default: the campaign's utm_campaign.
    #[arg(long)]
    utm_campaign: Option<String>,
    #[arg(long)]
    utm_content: Option<String>,
    #[arg(long)]
    utm_term: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum CampaignAction {
    /// Plan a campaign around a business goal.
    Add {
        name: String,
        /// leads, sales, sign_ups, resolved_complaints or custom.
        #[arg(long)]
        goal: String,
        /// For `--goal custom`: the conversion kind that counts.
        #[arg(long)]
        custom_goal: Option<String>,
        /// Goal conversions to reach.
        #[arg(long)]
        target: Option<i64>,
        /// Budget, e.g. 500 or 499.99 (with --currency).
        #[arg(long)]
        budget: Option<String>,
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// First day, YYYY-MM-DD (default today).
        #[arg(long)]
        start: Option<String>,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        end: Option<String>,
        /// The utm_campaign of its links (default: from the name).
        #[arg(long)]
        utm_campaign: Option<String>,
        /// A post serving the campaign (repeatable).
        #[arg(long = "post")]
        posts: Vec<i64>,
    },
    List,
    /// Change a campaign's settings; what is not given stays as it is.
    Edit {
        campaign: String,
        #[arg(long)]
        rename: Option<String>,
        #[arg(long)]
        goal: Option<String>,
        #[arg(long)]
        custom_goal: Option<String>,
        #[arg(long)]
        target: Option<i64>,
        /// Budget, e.g. 500 or 499.99 (in --currency, default the budget's own).
        #[arg(long)]
        budget: Option<String>,
        #[arg(long)]
        currency: Option<String>,
        #[arg(long)]
        start: Option<String>,
        /// Last day, YYYY-MM-DD (ending a campaign keeps its figures).
        #[arg(long)]
        end: Option<String>,
        /// A new utm_campaign (links made before keep theirs).
        #[arg(long)]
        utm_campaign: Option<String>,
    },
    /// Make posts serve this campaign (and no other); their links carry its utm_campaign when
    /// they are queued for publishing.
    Attach {
        campaign: String,
        #[arg(required = true)]
        posts: Vec<i64>,
    },
    /// Take posts out of whatever campaign they serve.
    Detach {
        #[arg(required = true)]
        posts: Vec<i64>,
    },
    /// Delete a campaign that has no spend, links or conversions.
    Delete {
        campaign: String,
    },
    /// The report: spend, clicks, conversions, value, cost per conversion, ROI.
    Report {
        campaign: String,
        /// Write the report as CSV.
        #[arg(long)]
        csv: bool,
    },
    /// Record money spent on a campaign, e.g. `earshot campaign spend spring 120.50`.
    Spend {
        campaign: String,
        amount: String,
        #[arg(long, default_value = "EUR")]
        currency: String,
        /// The day it was spent, YYYY-MM-DD (default today).
        #[arg(long)]
        on: Option<String>,
        #[arg(long, default_value = "")]
        note: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum ConversionsAction {
    /// Print the workspace's signing secret for POST /api/conversions (created when missing).
    Secret {
        /// Replace it with a new one; requests signed with the old one are refused from now on.
        #[arg(long)]
        rotate: bool,
    },
}

/// Days are stored as `YYYY-MM-DD` text, so "all days" is a four-digit-year range.
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default()
}

fn parse_day(what: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| anyhow!("{what}: {text:?} is not a date (YYYY-MM-DD)"))
}

async fn find_campaign(store: &dyn Store, name: &str) -> Result<Campaign> {
    store
        .campaign_named(name)
        .await?
        .ok_or_else(|| anyhow!("no campaign named {name:?} (see `earshot campaign list`)"))
}

fn short_link_base(workspace: &Workspace) -> Result<String> {
    let config = workspace.load_config()?;
    Ok(config.links.base_url_or(&config.server.addr))
}

pub async fn link(workspace: &Workspace, action: LinkAction) -> Result<()> {
    let base = short_link_base(workspace)?;
    let store = workspace.open_store().await?;
    match action {
        LinkAction::Create { url, campaign, utm } => {
            let campaign = match campaign {
                Some(name) => Some(find_campaign(store.as_ref(), &name).await?),
                None => None,
            };
            let utm = UtmParams {
                source: utm.utm_source,
                medium: utm.utm_medium,
                campaign: utm
                    .utm_campaign
                    .or_else(|| campaign.as_ref().map(|c| c.utm_campaign.clone())),
                content: utm.utm_content,
                term: utm.utm_term,
            };
            let link = earshot_store::links::create_tracked_link(
                store.as_ref(),
                &url,
                &utm,
                campaign.map(|c| c.id),
                None,
                Utc::now(),
            )
            .await?;
            println!("{base}/l/{}", link.code);
            eprintln!("→ {}", link.target_url);
        }
        LinkAction::List => {
            let links = store.links(None, 1_000).await?;
            let clicks = store.clicks_per_day(None, first_day(), last_day()).await?;
            for link in links {
                let (human, bot) = clicks
                    .iter()
                    .filter(|c| c.code == link.code)
                    .fold((0, 0), |(h, b), c| (h + c.human, b + c.bot));
                println!(
                    "{base}/l/{}\t{human} people\t{bot} bots\t{}",
                    link.code, link.target_url
                );
            }
        }
    }
    Ok(())
}

pub async fn campaign(workspace: &Workspace, action: CampaignAction) -> Result<()> {
    workspace.load_config()?;
    let store = workspace.open_store().await?;
    campaign_action(store.as_ref(), action).await
}

async fn campaign_action(store: &dyn Store, action: CampaignAction) -> Result<()> {
    match action {
        CampaignAction::Add {
            name,
            goal,
            custom_goal,
            target,
            budget,
            currency,
            start,
            end,
            utm_campaign,
            posts,
        } => {
            let goal = Goal::parse(&goal).map_err(|e| anyhow!("--goal: {e}"))?;
            let currency = Currency::parse(&currency).context("--currency")?;
            let budget = budget
                .map(|b| Money::parse(&b, currency).context("--budget"))
                .transpose()?;
            let new = NewCampaign {
                utm_campaign: utm_campaign.unwrap_or_else(|| slug(&name)),
                name,
                goal,
                custom_goal,
                target,
                budget,
                starts_on: match start {
                    Some(d) => parse_day("--start", &d)?,
                    None => Utc::now().date_naive(),
                },
                ends_on: end.map(|d| parse_day("--end", &d)).transpose()?,
                post_ids: posts,
            };
            new.validate().map_err(|e| anyhow!("{e}"))?;
            let campaign = store.create_campaign(new, Utc::now()).await?;
            println!(
                "campaign {} {:?} (utm_campaign={})",
                campaign.id, campaign.name, campaign.utm_campaign
            );
        }
        CampaignAction::List => {
            for campaign in store.campaigns().await? {
                let ends = campaign.ends_on.map(|d| d.to_string()).unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{}\t{} – {ends}",
                    campaign.id,
                    campaign.name,
                    campaign.utm_campaign,
                    campaign.goal.as_str(),
                    campaign.starts_on
                );
            }
        }
        CampaignAction::Edit {
            campaign,
            rename,
            goal,
            custom_goal,
            target,
            budget,
            currency,
            start,
            end,
            utm_campaign,
        } => {
            let found = find_campaign(store, &campaign).await?;
            let currency = match (currency, &found.budget) {
                (Some(code), _) => Currency::parse(&code).context("--currency")?,
                (None, Some(budget)) => budget.currency.clone(),
                (None, None) => Currency::parse("EUR").context("--currency")?,
            };
            let new = NewCampaign {
                name: rename.unwrap_or(found.name),
                utm_campaign: utm_campaign.unwrap_or(found.utm_campaign),
                goal: match goal {
                    Some(goal) => Goal::parse(&goal).map_err(|e| anyhow!("--goal: {e}"))?,
                    None => found.goal,
                },
                custom_goal: custom_goal.or(found.custom_goal),
                target: target.or(found.target),
                budget: match budget {
                    Some(b) => Some(Money::parse(&b, currency).context("--budget")?),
                    None => found.budget,
                },
                starts_on: match start {
                    Some(d) => parse_day("--start", &d)?,
                    None => found.starts_on,
                },
                ends_on: match end {
                    Some(d) => Some(parse_day("--end", &d)?),
                    None => found.ends_on,
                },
                post_ids: found.post_ids,
            };
            new.validate().map_err(|e| anyhow!("{e}"))?;
            let campaign = store.update_campaign(found.id, new).await?;
            println!(
                "campaign {} {:?} (utm_campaign={})",
                campaign.id, campaign.name, campaign.utm_campaign
            );
        }
        CampaignAction::Attach { campaign, posts } => {
            let found = find_campaign(store, &campaign).await?;
            for post in posts {
                if store.post(earshot_core::PostId(post)).await?.is_none() {
                    return Err(anyhow!("no post {post} (see `earshot post list`)"));
                }
                store.set_post_campaign(post, Some(found.id)).await?;
                println!("post {post} serves campaign {:?}", found.name);
            }
        }
        CampaignAction::Detach { posts } => {
            for post in posts {
                store.set_post_campaign(post, None).await?;
                println!("post {post} serves no campaign");
            }
        }
        CampaignAction::Delete { campaign } => {
            let found = find_campaign(store, &campaign).await?;
            store.delete_campaign(found.id).await?;
            println!("campaign {:?} deleted", found.name);
        }
        CampaignAction::Report { campaign, csv } => {
            let found = find_campaign(store, &campaign).await?;
            let report = store
                .campaign_report(found.id)
                .await?
                .ok_or_else(|| anyhow!("campaign {campaign:?} disappeared"))?;
            if csv {
                let body = earshot_web::report_csv(&report).context("writing the CSV")?;
                std::io::stdout().write_all(&body)?;
                return Ok(());
            }
            println!(
                "{} — goal {} ",
                report.campaign.name,
                report.campaign.goal.as_str()
            );
            if report.rows.is_empty() {
                println!("  no spend, budget or conversions yet");
            }
            for row in &report.rows {
                let money =
                    |m: i64| format!("{} {}", Money::format_minor(m, &row.currency), row.currency);
                println!(
                    "  ROI {:>10}   spend {}   value {}   conversions {}   cost/conversion {}",
                    row.roi_basis_points
                        .map(format_basis_points)
                        .unwrap_or_else(|| "n/a".into()),
                    money(row.spend),
                    money(row.conversion_value),
                    row.conversions,
                    row.cost_per_conversion
                        .map(money)
                        .unwrap_or_else(|| "n/a".into()),
                );
            }
            println!(
                "  clicks by people {}   conversions {} (goal {} of {})",
                report.clicks_human,
                report.conversions,
                report.goal_conversions,
                report
                    .campaign
                    .target
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "no target".into())
            );
            println!(
                "  secondary: {} fetches by crawlers and link previews; followers and likes are not collected",
                report.clicks_bot
            );
        }
        CampaignAction::Spend {
            campaign,
            amount,
            currency,
            on,
            note,
        } => {
            let found = find_campaign(store, &campaign).await?;
            let currency = Currency::parse(&currency).context("--currency")?;
            let amount = Money::parse(&amount, currency).context("AMOUNT")?;
            let spent_on = match on {
                Some(d) => parse_day("--on", &d)?,
                None => Utc::now().date_naive(),
            };
            let entry = store
                .add_spend(
                    found.id,
                    NewSpend {
                        amount,
                        spent_on,
                        note,
                    },
                    Utc::now(),
                )
                .await?;
            println!(
                "spent {} on {} for {:?}",
                entry.amount, entry.spent_on, found.name
            );
        }
    }
    Ok(())
}

pub fn conversions(workspace: &Workspace, action: ConversionsAction) -> Result<()> {
    if !workspace.config_path().exists() {
        bail!(
            "{} is not an Earshot workspace (run `earshot init`)",
            workspace.dir.display()
        );
    }
    match action {
        ConversionsAction::Secret { rotate } => {
            let secret = earshot_web::links::ensure_signing_secret(&workspace.dir, rotate)
                .with_context(|| {
                    format!(
                        "cannot write {}",
                        earshot_web::links::signing_secret_path(&workspace.dir).display()
                    )
                })?;
            println!("{secret}");
            if rotate {
                eprintln!("rotated: requests signed with the old secret are refused from now on");
            }
        }
    }
    Ok(())
}
