//! The inbox filters shared by `/inbox`, its live stream and `/api/conversations`: read from
//! the query string as text, so each bad value gets an error naming its parameter.

use earshot_core::{ConversationFilter, ConversationSort, ConversationState, Priority};

use crate::error::WebError;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// The query-string names the inbox list understands, in the order links repeat them.
/// `language` (not `lang`) is the mention-language filter, since `lang` switches the interface.
const FILTER_KEYS: [&str; 12] = [
    "state",
    "team",
    "assignee",
    "mine",
    "unassigned",
    "priority",
    "overdue",
    "brand",
    "source",
    "language",
    "tag",
    "sort",
];

/// The filter parameters as sent (empty values dropped), to refill the form, to build the
/// next-page link and to save a view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxQuery {
    /// Filter pairs in the order they came; `state` may repeat.
    pub pairs: Vec<(String, String)>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
    /// A saved view to apply (its filters replace the query's).
    pub view: Option<String>,
}

impl InboxQuery {
    pub fn parse(query: Option<&str>) -> InboxQuery {
        let mut parsed = InboxQuery::default();
        let Some(query) = query else { return parsed };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim().to_string();
            if value.is_empty() {
                continue;
            }
            match key.as_ref() {
                "cursor" => parsed.cursor = Some(value),
                "limit" => parsed.limit = Some(value),
                "after" => parsed.after = Some(value),
                "view" => parsed.view = Some(value),
                k if FILTER_KEYS.contains(&k) => parsed.pairs.push((k.to_string(), value)),
                _ => {}
            }
        }
        parsed
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (repeated parameters, and comma-separated lists).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The filters only, as a query string (no cursor, no limit), for links and saved views.
    pub fn filter_query(&self) -> String {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        qs.extend_pairs(self.pairs.iter());
        qs.finish()
    }
}

/// Validated filters, ready for the store.
#[derive(Debug, Clone)]
pub struct InboxParams {
    pub filter: ConversationFilter,
    pub cursor: Option<String>,
    pub limit: usize,
}

impl InboxParams {
    /// `me` is the signed-in member, for `mine=1`. Without any `state`, the open queues
    /// (new, assigned, waiting) are shown; `state=all` shows every state.
    pub fn parse(query: &InboxQuery, me: &str) -> Result<InboxParams, WebError> {
        let mut filter = ConversationFilter::default();
        let states = query.all("state");
        if states.is_empty() {
            filter.states = ConversationFilter::open().states;
        } else if !states.contains(&"all") {
            for state in states {
                let state = state
                    .parse::<ConversationState>()
                    .map_err(|e| bad("state", e.to_string()))?;
                if !filter.states.contains(&state) {
                    filter.states.push(state);
                }
            }
        }
        filter.team = query.get("team").map(str::to_string);
        filter.assignee = query.get("assignee").map(str::to_string);
        if flag(query, "mine")? {
            filter.assignee = Some(me.to_string());
        }
        filter.unassigned = flag(query, "unassigned")?;
        if filter.unassigned && filter.assignee.is_some() {
            return Err(bad(
                "unassigned",
                "cannot be combined with `assignee` or `mine`".into(),
            ));
        }
        filter.priority = query
            .get("priority")
            .map(|p| p.parse::<Priority>())
            .transpose()
            .map_err(|e| bad("priority", e.to_string()))?;
        filter.overdue = flag(query, "overdue")?;
        filter.brand = query.get("brand").map(str::to_string);
        filter.source = query.get("source").map(str::to_string);
        filter.lang = query.get("language").map(str::to_string);
        filter.tag = query.get("tag").map(str::to_string);
        filter.sort = match query.get("sort") {
            None | Some("priority") => ConversationSort::PriorityThenAge,
            Some("newest") => ConversationSort::Newest,
            Some(other) => {
                return Err(bad(
                    "sort",
                    format!("{other:?} is not one of `priority`, `newest`"),
                ))
            }
        };
        let limit = match query.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "limit",
                        format!("{v:?} is not a whole number from 1 to {MAX_LIMIT}"),
                    ))
                }
            },
        };
        Ok(InboxParams {
            filter,
            cursor: query.cursor.clone(),
            limit,
        })
    }

    /// Whether a conversation passes the filters (the live stream's counterpart of the list).
    pub fn admits(&self, c: &earshot_core::Conversation) -> bool {
        let f = &self.filter;
        (f.states.is_empty() || f.states.contains(&c.state))
            && f.team.as_ref().is_none_or(|t| c.team.as_ref() == Some(t))
            && f.assignee
                .as_ref()
                .is_none_or(|a| c.assignee.as_ref() == Some(a))
            && (!f.unassigned || c.assignee.is_none())
            && f.priority.is_none_or(|p| c.priority == p)
            && (!f.overdue || c.is_overdue())
            && f.brand.as_ref().is_none_or(|b| c.brands.contains(b))
            && f.source.as_ref().is_none_or(|s| &c.source == s)
            && f.lang.as_ref().is_none_or(|l| &c.lang == l)
            && f.tag.as_ref().is_none_or(|t| c.tags.contains(t))
    }
}

fn flag(query: &InboxQuery, key: &'static str) -> Result<bool, WebError> {
    match query.get(key) {
        None => Ok(false),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "true" | "on" | "yes" => Ok(true),
            "0" | "false" | "off" | "no" => Ok(false),
            _ => Err(bad(
                key,
                format!("{v:?} is not a yes/no value (true, false, 1, 0, on, off)"),
            )),
        },
    }
}

pub(crate) fn bad(param: &str, problem: String) -> WebError {
    WebError::BadRequest(format!("parameter `{param}`: {problem}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<InboxParams, WebError> {
        InboxParams::parse(&InboxQuery::parse(Some(query)), "anna")
    }

    fn error_of(query: &str) -> String {
        match parse(query) {
            Err(WebError::BadRequest(m)) => m,
            other => panic!("expected a bad request for {query:?}, got {other:?}"),
        }
    }

    #[test]
    fn reads_every_filter() {
        let p = parse("state=new,waiting&state=resolved&team=support&mine=1&priority=high&overdue=on&brand=Zeltron&source=masto&language=ru&tag=vip&sort=newest&limit=7&cursor=abc").unwrap();
        let f = &p.filter;
        assert_eq!(
            f.states,
            vec![
                ConversationState::New,
                ConversationState::Waiting,
                ConversationState::Resolved
            ]
        );
        assert_eq!(f.team.as_deref(), Some("support"));
        assert_eq!(f.assignee.as_deref(), Some("anna"));
        assert_eq!(f.priority, Some(Priority::High));
        assert!(f.overdue);
        assert_eq!(f.brand.as_deref(), Some("Zeltron"));
        assert_eq!(f.source.as_deref(), Some("masto"));
        assert_eq!(f.lang.as_deref(), Some("ru"));
        assert_eq!(f.tag.as_deref(), Some("vip"));
        assert_eq!(f.sort, ConversationSort::Newest);
        assert_eq!(p.limit, 7);
        assert_eq!(p.cursor.as_deref(), Some("abc"));
    }

    #[test]
    fn no_state_means_the_open_queues_and_all_means_every_state() {
        assert_eq!(
            parse("").unwrap().filter.states,
            ConversationFilter::open().states
        );
        assert!(parse("state=all").unwrap().filter.states.is_empty());
    }

    #[test]
    fn bad_values_name_their_parameter() {
        assert!(error_of("state=closed").contains("`state`"));
        assert!(error_of("priority=asap").contains("`priority`"));
        assert!(error_of("overdue=maybe").contains("`overdue`"));
        assert!(error_of("limit=0").contains("`limit`"));
        assert!(error_of("sort=oldest").contains("`sort`"));
        assert!(error_of("unassigned=1&assignee=boris").contains("`unassigned`"));
    }

    #[test]
    fn filter_query_keeps_filters_and_drops_paging() {
        let q = InboxQuery::parse(Some("team=a+b&cursor=x&limit=3&lang=ru&view=2"));
        assert_eq!(q.filter_query(), "team=a+b");
        assert_eq!(q.view.as_deref(), Some("2"));
    }
}
