//! `/inbox/rules`: the routing rules in evaluation order (the defaults when earshot.toml has
//! none), and for managers the editor: add, edit, delete, move up and down.
//!
//! A save checks the whole configuration exactly as loading earshot.toml does
//! (`RoutingRules::compile`), writes the rules back into the file keeping everything else
//! ([`super::rules_file`]), and swaps the compiled rules into the running router. Every form
//! carries the version (a hash) of the file it was made from; a save from an older version is
//! refused, with the edit still in the form, so nobody's change is silently lost.

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use earshot_core::{AssignStrategy, Priority, Role, RuleActions, RuleConditions, RuleConfig};
use earshot_engine::inbox::{rules_in_force, RoutingRules};

use super::rules_file::{self, RulesFileError};
use super::view::priority_key;
use super::Actor;
use crate::error::WebError;
use crate::i18n::Tr;
use crate::pages::PageContext;
use crate::view::{Layout, SelectOption};
use crate::AppState;

/// One rule in the list, described in the words of earshot.toml.
pub struct RuleRow {
    /// 1-based, as the list and the URLs number rules.
    pub position: usize,
    pub name: String,
    pub conditions: Vec<String>,
    pub actions: Vec<String>,
    pub first: bool,
    pub last: bool,
}

#[derive(Template)]
#[template(path = "inbox_rules.html")]
struct RulesPage {
    t: Tr,
    layout: Layout,
    csrf: String,
    version: String,
    rows: Vec<RuleRow>,
    defaults: bool,
    can_edit: bool,
    saved: bool,
}

fn list(values: &[String]) -> String {
    values.join(", ")
}

pub fn describe_conditions(rule: &RuleConfig) -> Vec<String> {
    let when = &rule.when;
    let mut out = Vec::new();
    if !when.intents.is_empty() {
        out.push(format!("intents: {}", list(&when.intents)));
    }
    if !when.sentiment.is_empty() {
        out.push(format!("sentiment: {}", list(&when.sentiment)));
    }
    if let Some(offensive) = when.offensive {
        out.push(format!("offensive: {offensive}"));
    }
    if let Some(spam) = when.spam {
        out.push(format!("spam: {spam}"));
    }
    if !when.languages.is_empty() {
        out.push(format!("languages: {}", list(&when.languages)));
    }
    if !when.sources.is_empty() {
        out.push(format!("sources: {}", list(&when.sources)));
    }
    if !when.brands.is_empty() {
        out.push(format!("brands: {}", list(&when.brands)));
    }
    if let Some(keywords) = &when.keywords {
        out.push(format!("keywords: {keywords}"));
    }
    if let Some(min) = when.min_followers {
        out.push(format!("min_followers: {min}"));
    }
    if let Some(max) = when.max_followers {
        out.push(format!("max_followers: {max}"));
    }
    out
}

pub fn describe_actions(rule: &RuleConfig) -> Vec<String> {
    let then = &rule.then;
    let mut out = Vec::new();
    if let Some(team) = &then.team {
        out.push(format!("team: {team}"));
    }
    if let Some(assign) = &then.assign {
        out.push(format!("assign: {assign}"));
    }
    if let Some(priority) = then.priority {
        out.push(format!("priority: {}", priority.as_str()));
    }
    if !then.tags.is_empty() {
        out.push(format!("tags: {}", list(&then.tags)));
    }
    if then.ignore {
        out.push("ignore: true".into());
    }
    if let Some(stop) = then.stop {
        out.push(format!("stop: {stop}"));
    }
    out
}

/// The file, its version and the configuration it holds.
fn load(app: &AppState) -> Result<(std::path::PathBuf, String, earshot_core::Config), WebError> {
    let path = rules_file::config_path(&app.web.workspace);
    let text = rules_file::read(&path).map_err(file_error)?;
    let config = rules_file::parse_config(&path, &text).map_err(file_error)?;
    Ok((path, text, config))
}

fn file_error(error: RulesFileError) -> WebError {
    match error {
        RulesFileError::Read { .. } | RulesFileError::Write { .. } => {
            WebError::Internal(error.to_string())
        }
        // A hand edit broke the file: say so, the fix is in the file.
        RulesFileError::Syntax { .. } | RulesFileError::Config { .. } => {
            WebError::Conflict(error.to_string())
        }
    }
}

pub async fn rules(State(app): State<AppState>, ctx: PageContext, actor: Actor) -> Response {
    let tr = ctx.tr();
    let (_, text, config) = match load(&app) {
        Ok(loaded) => loaded,
        Err(error) => return ctx.error_page(error),
    };
    let in_force = rules_in_force(&config);
    let count = in_force.len();
    let page = RulesPage {
        t: tr,
        layout: ctx.layout(tr.t("rules.title"), "rules"),
        csrf: actor.csrf.clone().unwrap_or_default(),
        version: rules_file::version(&text),
        rows: in_force
            .iter()
            .enumerate()
            .map(|(i, rule)| RuleRow {
                position: i + 1,
                name: rule.name.clone(),
                conditions: describe_conditions(rule),
                actions: describe_actions(rule),
                first: i == 0,
                last: i + 1 == count,
            })
            .collect(),
        defaults: config.routing.rules.is_empty(),
        can_edit: actor.role >= Role::Manager,
        saved: ctx.query.as_deref().is_some_and(|q| q.contains("saved=1")),
    };
    ctx.respond(StatusCode::OK, &page)
}

/// The editor's fields as typed (shown again when a save is refused).
#[derive(Debug, Clone, Default)]
pub struct RuleFields {
    pub name: String,
    pub intents: Vec<String>,
    pub sentiment: Vec<String>,
    /// `""` (either), `true` or `false`.
    pub offensive: String,
    pub spam: String,
    pub languages: String,
    pub sources: String,
    pub brands: String,
    pub keywords: String,
    pub min_followers: String,
    pub max_followers: String,
    pub team: String,
    pub assign: String,
    pub priority: String,
    pub tags: String,
    pub ignore: bool,
    pub stop: String,
    pub first: bool,
}

fn flag(value: Option<bool>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

impl RuleFields {
    fn of(rule: &RuleConfig) -> Self {
        let when = &rule.when;
        let then = &rule.then;
        RuleFields {
            name: rule.name.clone(),
            intents: when.intents.clone(),
            sentiment: when.sentiment.clone(),
            offensive: flag(when.offensive),
            spam: flag(when.spam),
            languages: list(&when.languages),
            sources: list(&when.sources),
            brands: list(&when.brands),
            keywords: when.keywords.clone().unwrap_or_default(),
            min_followers: when
                .min_followers
                .map(|n| n.to_string())
                .unwrap_or_default(),
            max_followers: when
                .max_followers
                .map(|n| n.to_string())
                .unwrap_or_default(),
            team: then.team.clone().unwrap_or_default(),
            assign: then
                .assign
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            priority: then
                .priority
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            tags: list(&then.tags),
            ignore: then.ignore,
            stop: flag(then.stop),
            first: false,
        }
    }

    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let all = |key: &str| {
            pairs
                .iter()
                .filter(|(k, v)| k == key && !v.trim().is_empty())
                .map(|(_, v)| v.trim().to_string())
                .collect::<Vec<_>>()
        };
        RuleFields {
            name: get("name"),
            intents: all("intents"),
            sentiment: all("sentiment"),
            offensive: get("offensive"),
            spam: get("spam"),
            languages: get("languages"),
            sources: get("sources"),
            brands: get("brands"),
            keywords: get("keywords"),
            min_followers: get("min_followers"),
            max_followers: get("max_followers"),
            team: get("team"),
            assign: get("assign"),
            priority: get("priority"),
            tags: get("tags"),
            ignore: !get("ignore").is_empty(),
            stop: get("stop"),
            first: !get("first").is_empty(),
        }
    }

    /// The rule these fields describe, or every field that cannot be read, named.
    fn to_rule(&self) -> Result<RuleConfig, Vec<String>> {
        let mut problems = Vec::new();
        let split = |raw: &str| -> Vec<String> {
            raw.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect()
        };
        let text = |raw: &str| Some(raw.trim().to_string()).filter(|v| !v.is_empty());
        let mut yes_no = |field: &str, raw: &str| match raw.trim() {
            "" => None,
            "true" => Some(true),
            "false" => Some(false),
            other => {
                problems.push(format!(
                    "field `{field}`: {other:?} is not true, false or empty"
                ));
                None
            }
        };
        let offensive = yes_no("offensive", &self.offensive);
        let spam = yes_no("spam", &self.spam);
        let stop = yes_no("stop", &self.stop);
        let mut count = |field: &str, raw: &str| match raw.trim() {
            "" => None,
            digits => match digits.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    problems.push(format!(
                        "field `{field}`: {digits:?} is not a whole number of followers"
                    ));
                    None
                }
            },
        };
        let min_followers = count("min_followers", &self.min_followers);
        let max_followers = count("max_followers", &self.max_followers);
        let priority = match self.priority.trim() {
            "" => None,
            raw => match raw.parse::<Priority>() {
                Ok(p) => Some(p),
                Err(e) => {
                    problems.push(format!("field `priority`: {e}"));
                    None
                }
            },
        };
        let assign = match self.assign.trim() {
            "" => None,
            "round_robin" => Some(AssignStrategy::RoundRobin),
            "least_loaded" => Some(AssignStrategy::LeastLoaded),
            member => Some(AssignStrategy::Member(member.to_string())),
        };
        if self.name.trim().is_empty() {
            problems.push("field `name`: a rule needs a name".into());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(RuleConfig {
            name: self.name.trim().to_string(),
            when: RuleConditions {
                intents: self.intents.clone(),
                sentiment: self.sentiment.clone(),
                offensive,
                spam,
                languages: split(&self.languages),
                sources: split(&self.sources),
                brands: split(&self.brands),
                keywords: text(&self.keywords),
                min_followers,
                max_followers,
            },
            then: RuleActions {
                team: text(&self.team),
                assign,
                priority,
                tags: split(&self.tags),
                ignore: self.ignore,
                stop,
            },
        })
    }
}

pub struct Check {
    pub value: &'static str,
    pub label: &'static str,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "inbox_rule_form.html")]
struct RuleFormPage {
    t: Tr,
    layout: Layout,
    csrf: String,
    version: String,
    /// The rule's position when editing one; `None` adds a rule.
    position: Option<usize>,
    fields: RuleFields,
    problems: Vec<String>,
    conflict: bool,
    intents: Vec<Check>,
    sentiments: Vec<Check>,
    offensive: Vec<SelectOption>,
    spam: Vec<SelectOption>,
    stop: Vec<SelectOption>,
    teams: Vec<SelectOption>,
    priorities: Vec<SelectOption>,
}

fn yes_no_options(tr: Tr, current: &str) -> Vec<SelectOption> {
    [
        ("", tr.t("rules.either")),
        ("true", tr.t("rules.yes")),
        ("false", tr.t("rules.no")),
    ]
    .iter()
    .map(|(value, label)| SelectOption {
        value: value.to_string(),
        label: label.to_string(),
        selected: current.trim() == *value,
    })
    .collect()
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    app: &AppState,
    ctx: &PageContext,
    actor: &Actor,
    version: String,
    position: Option<usize>,
    fields: RuleFields,
    problems: Vec<String>,
    conflict: bool,
) -> RuleFormPage {
    let tr = ctx.tr();
    let checks = |labels: &[&'static str], chosen: &[String]| {
        labels
            .iter()
            .map(|&value| Check {
                value,
                label: crate::view::analysis_label_key(value).map_or(value, |key| tr.t(key)),
                checked: chosen.iter().any(|c| c == value),
            })
            .collect::<Vec<_>>()
    };
    let mut teams: Vec<String> = match super::actions::routing_rules(app) {
        Ok(rules) => rules.teams().iter().map(|t| t.name.clone()).collect(),
        Err(_) => Vec::new(),
    };
    if !fields.team.is_empty() && !teams.contains(&fields.team) {
        teams.push(fields.team.clone());
    }
    let mut team_options = vec![SelectOption {
        value: String::new(),
        label: tr.t("rules.no_team").to_string(),
        selected: fields.team.is_empty(),
    }];
    team_options.extend(teams.into_iter().map(|name| SelectOption {
        selected: name == fields.team,
        label: name.clone(),
        value: name,
    }));
    let mut priorities = vec![SelectOption {
        value: String::new(),
        label: tr.t("rules.computed_priority").to_string(),
        selected: fields.priority.is_empty(),
    }];
    priorities.extend(Priority::ALL.iter().map(|p| SelectOption {
        value: p.as_str().to_string(),
        label: tr.t(priority_key(*p)).to_string(),
        selected: fields.priority == p.as_str(),
    }));
    let title = match position {
        Some(n) => format!("{} #{n}", tr.t("rules.edit")),
        None => tr.t("rules.add").to_string(),
    };
    RuleFormPage {
        t: tr,
        layout: ctx.layout(&title, "rules"),
        csrf: actor.csrf.clone().unwrap_or_default(),
        version,
        position,
        intents: checks(&earshot_core::analysis::INTENT_LABELS, &fields.intents),
        sentiments: checks(&earshot_core::analysis::SENTIMENT_LABELS, &fields.sentiment),
        offensive: yes_no_options(tr, &fields.offensive),
        spam: yes_no_options(tr, &fields.spam),
        stop: yes_no_options(tr, &fields.stop),
        teams: team_options,
        priorities,
        fields,
        problems,
        conflict,
    }
}

fn parse_position(raw: &str, count: usize) -> Result<usize, WebError> {
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=count).contains(n))
        .ok_or_else(|| {
            WebError::NotFound(format!(
                "there is no rule {raw:?}; the rules are numbered 1 to {count}"
            ))
        })
}

pub async fn new_rule(State(app): State<AppState>, ctx: PageContext, actor: Actor) -> Response {
    let (_, text, _) = match load(&app) {
        Ok(loaded) => loaded,
        Err(error) => return ctx.error_page(error),
    };
    let page = form_page(
        &app,
        &ctx,
        &actor,
        rules_file::version(&text),
        None,
        RuleFields::default(),
        Vec::new(),
        false,
    );
    ctx.respond(StatusCode::OK, &page)
}

pub async fn edit_rule(
    State(app): State<AppState>,
    Path(rule): Path<String>,
    ctx: PageContext,
    actor: Actor,
) -> Response {
    let (_, text, config) = match load(&app) {
        Ok(loaded) => loaded,
        Err(error) => return ctx.error_page(error),
    };
    let in_force = rules_in_force(&config);
    let position = match parse_position(&rule, in_force.len()) {
        Ok(n) => n,
        Err(error) => return ctx.error_page(error),
    };
    let page = form_page(
        &app,
        &ctx,
        &actor,
        rules_file::version(&text),
        Some(position),
        RuleFields::of(&in_force[position - 1]),
        Vec::new(),
        false,
    );
    ctx.respond(StatusCode::OK, &page)
}

fn pairs(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field(pairs: &[(String, String)], key: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

const CONFLICT: &str = "earshot.toml changed since this page was loaded (someone saved the rules, or the file was edited). Nothing was saved; reload the rules to see the current ones and make your change again.";

/// Why a save did not happen.
enum Refused {
    /// The configuration would not load: every problem, each naming its rule and field.
    Invalid(Vec<String>),
    Failed(WebError),
}

/// Write `rules` into the file (whose current text is `text`) and make the server use them.
async fn save(
    app: &AppState,
    path: &std::path::Path,
    text: &str,
    rules: &[RuleConfig],
) -> Result<(), Refused> {
    let new_text =
        rules_file::replace_rules(path, text, rules).map_err(|e| Refused::Failed(file_error(e)))?;
    let new_config = rules_file::parse_config(path, &new_text)
        .map_err(|e| Refused::Invalid(vec![e.to_string()]))?;
    let compiled = RoutingRules::compile(&new_config).map_err(|e| Refused::Invalid(e.problems))?;
    rules_file::write_atomically(path, &new_text).map_err(|e| Refused::Failed(file_error(e)))?;
    // The file is the record; the store's teams, the pages' configuration and the router
    // follow it. Teams are synced too, in case the file's [[team]]s were edited by hand.
    app.web
        .store
        .upsert_teams(&compiled.team_records())
        .await
        .map_err(|e| Refused::Failed(e.into()))?;
    *app.web
        .config
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = new_config;
    if let Some(live) = &app.web.live_rules {
        live.replace(Arc::new(compiled));
    }
    Ok(())
}

fn saved() -> Response {
    Redirect::to("/inbox/rules?saved=1").into_response()
}

/// Add (no `position`) or replace (with `position`) a rule from the editor's form.
pub async fn save_rule(
    State(app): State<AppState>,
    ctx: PageContext,
    actor: Actor,
    body: Bytes,
) -> Response {
    let pairs = pairs(&body);
    let version = field(&pairs, "version");
    let position_field = field(&pairs, "position");
    let fields = RuleFields::from_pairs(&pairs);
    let _editing = app.rules_edit.lock().await;
    let (path, text, config) = match load(&app) {
        Ok(loaded) => loaded,
        Err(error) => return ctx.error_page(error),
    };
    let mut in_force = rules_in_force(&config);
    let position = if position_field.is_empty() {
        None
    } else {
        match parse_position(&position_field, in_force.len()) {
            Ok(n) => Some(n),
            Err(_) if version != rules_file::version(&text) => None,
            Err(error) => return ctx.error_page(error),
        }
    };
    let refuse = |status, problems, conflict, fields| {
        let page = form_page(
            &app,
            &ctx,
            &actor,
            version.clone(),
            position,
            fields,
            problems,
            conflict,
        );
        ctx.respond(status, &page)
    };
    if version != rules_file::version(&text) {
        return refuse(
            StatusCode::CONFLICT,
            vec![CONFLICT.to_string()],
            true,
            fields,
        );
    }
    let rule = match fields.to_rule() {
        Ok(rule) => rule,
        Err(problems) => return refuse(StatusCode::BAD_REQUEST, problems, false, fields),
    };
    match position {
        Some(n) => in_force[n - 1] = rule,
        None if fields.first => in_force.insert(0, rule),
        None => in_force.push(rule),
    }
    match save(&app, &path, &text, &in_force).await {
        Ok(()) => saved(),
        Err(Refused::Invalid(problems)) => refuse(StatusCode::BAD_REQUEST, problems, false, fields),
        Err(Refused::Failed(error)) => ctx.error_page(error),
    }
}

/// Delete or move one rule: checks the version, changes the list, saves.
async fn change_list(
    app: &AppState,
    ctx: &PageContext,
    rule: &str,
    body: &Bytes,
    change: impl FnOnce(&mut Vec<RuleConfig>, usize) -> Result<(), WebError>,
) -> Response {
    let pairs = pairs(body);
    let _editing = app.rules_edit.lock().await;
    let (path, text, config) = match load(app) {
        Ok(loaded) => loaded,
        Err(error) => return ctx.error_page(error),
    };
    if field(&pairs, "version") != rules_file::version(&text) {
        return ctx.error_page(WebError::Conflict(CONFLICT.into()));
    }
    let mut in_force = rules_in_force(&config);
    let position = match parse_position(rule, in_force.len()) {
        Ok(n) => n,
        Err(error) => return ctx.error_page(error),
    };
    if let Err(error) = change(&mut in_force, position - 1) {
        return ctx.error_page(error);
    }
    match save(app, &path, &text, &in_force).await {
        Ok(()) => saved(),
        Err(Refused::Invalid(problems)) => {
            ctx.error_page(WebError::BadRequest(problems.join("\n")))
        }
        Err(Refused::Failed(error)) => ctx.error_page(error),
    }
}

pub async fn delete_rule(
    State(app): State<AppState>,
    Path(rule): Path<String>,
    ctx: PageContext,
    body: Bytes,
) -> Response {
    change_list(&app, &ctx, &rule, &body, |rules, index| {
        rules.remove(index);
        Ok(())
    })
    .await
}

pub async fn move_rule(
    State(app): State<AppState>,
    Path(rule): Path<String>,
    ctx: PageContext,
    body: Bytes,
) -> Response {
    let direction = field(&pairs(&body), "direction");
    change_list(&app, &ctx, &rule, &body, |rules, index| {
        let other = match direction.as_str() {
            "up" => index.checked_sub(1),
            "down" => Some(index + 1).filter(|i| *i < rules.len()),
            other => {
                return Err(super::params::bad(
                    "direction",
                    format!("{other:?} is neither up nor down"),
                ))
            }
        };
        match other {
            Some(other) => {
                rules.swap(index, other);
                Ok(())
            }
            None => Err(super::params::bad(
                "direction",
                format!("rule {} cannot move {direction}", index + 1),
            )),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs_of(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_form_reads_back_into_the_rule_it_shows() {
        let rule = RuleConfig {
            name: "vip refunds".into(),
            when: RuleConditions {
                intents: vec!["complaint".into(), "question".into()],
                offensive: Some(false),
                languages: vec!["en".into(), "ru".into()],
                keywords: Some("refund* OR \"money back\"".into()),
                min_followers: Some(1000),
                ..RuleConditions::default()
            },
            then: RuleActions {
                team: Some("billing".into()),
                assign: Some(AssignStrategy::Member("anna".into())),
                priority: Some(Priority::High),
                tags: vec!["vip".into(), "refund".into()],
                stop: Some(false),
                ..RuleActions::default()
            },
        };
        assert_eq!(RuleFields::of(&rule).to_rule().unwrap(), rule);
    }

    #[test]
    fn unreadable_fields_are_each_named() {
        let fields = RuleFields::from_pairs(&pairs_of(&[
            ("name", " "),
            ("min_followers", "many"),
            ("spam", "maybe"),
            ("priority", "asap"),
        ]));
        let problems = fields.to_rule().unwrap_err();
        for named in ["`name`", "`min_followers`", "`spam`", "`priority`"] {
            assert!(
                problems.iter().any(|p| p.contains(named)),
                "{named} missing from {problems:?}"
            );
        }
    }

    #[test]
    fn repeated_checkboxes_and_lists_are_read() {
        let fields = RuleFields::from_pairs(&pairs_of(&[
            ("name", "r"),
            ("intents", "complaint"),
            ("intents", "feedback"),
            ("sentiment", "negative"),
            ("brands", "Zeltron, Acme ,"),
            ("ignore", "1"),
        ]));
        let rule = fields.to_rule().unwrap();
        assert_eq!(rule.when.intents, vec!["complaint", "feedback"]);
        assert_eq!(rule.when.sentiment, vec!["negative"]);
        assert_eq!(rule.when.brands, vec!["Zeltron", "Acme"]);
        assert!(rule.then.ignore);
        assert_eq!(rule.then.team, None);
    }
}
