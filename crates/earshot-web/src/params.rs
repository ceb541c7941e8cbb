//! The mention filters shared by the page, the live stream and the JSON API: read from the
//! query string as text, so every bad value gets an error that names its parameter instead
//! of a generic rejection.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use earshot_core::analysis::{INTENT_LABELS, SENTIMENT_LABELS};
use earshot_core::{MentionFilter, SortOrder};
use earshot_text::analysis::AnalyzedText;
use earshot_text::query::Query;

use crate::error::WebError;

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// Which query-string name carries the mention-language filter. The pages use `lang` for
/// the interface language (`?lang=ru`), so there the filter is called `language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LangParam {
    /// `/api/mentions`: `lang`.
    Api,
    /// `/mentions` and `/mentions/stream`: `language`.
    Page,
}

impl LangParam {
    pub fn name(self) -> &'static str {
        match self {
            LangParam::Api => "lang",
            LangParam::Page => "language",
        }
    }
}

/// The filter parameters exactly as sent (empty values dropped), to refill the search form
/// and to build "next page" links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawFilters {
    pub q: Option<String>,
    pub brand: Option<String>,
    pub lang: Option<String>,
    pub source: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub sort: Option<String>,
    pub hide_duplicates: Option<String>,
    pub sentiment: Option<String>,
    pub intent: Option<String>,
    pub hide_spam: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
    pub after: Option<String>,
}

impl RawFilters {
    pub fn from_query(query: Option<&str>, lang_param: LangParam) -> Self {
        let mut raw = RawFilters::default();
        let Some(query) = query else { return raw };
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.trim();
            let value = (!value.is_empty()).then(|| value.to_string());
            let slot = match key.as_ref() {
                "q" => &mut raw.q,
                "brand" => &mut raw.brand,
                "source" => &mut raw.source,
                "since" => &mut raw.since,
                "until" => &mut raw.until,
                "sort" => &mut raw.sort,
                "hide_duplicates" => &mut raw.hide_duplicates,
                "sentiment" => &mut raw.sentiment,
                "intent" => &mut raw.intent,
                "hide_spam" => &mut raw.hide_spam,
                "cursor" => &mut raw.cursor,
                "limit" => &mut raw.limit,
                "after" => &mut raw.after,
                k if k == lang_param.name() => &mut raw.lang,
                _ => continue,
            };
            // A repeated parameter: the last one wins, as with most form handling.
            *slot = value;
        }
        raw
    }

    /// The filters (not cursor, limit or `after`) as query-string pairs, in a fixed order.
    pub fn filter_pairs(&self, lang_param: LangParam) -> Vec<(&'static str, &str)> {
        [
            ("q", &self.q),
            ("brand", &self.brand),
            (lang_param.name(), &self.lang),
            ("source", &self.source),
            ("since", &self.since),
            ("until", &self.until),
            ("sort", &self.sort),
            ("hide_duplicates", &self.hide_duplicates),
            ("sentiment", &self.sentiment),
            ("intent", &self.intent),
            ("hide_spam", &self.hide_spam),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }
}

/// Validated filters, ready for the store.
#[derive(Debug)]
pub struct MentionParams {
    pub filter: MentionFilter,
    pub sort: SortOrder,
    pub cursor: Option<String>,
    pub limit: usize,
    /// The parsed `q`, for matching live mentions the same way the search does.
    pub query: Option<Query>,
}

impl MentionParams {
    pub fn parse(raw: &RawFilters) -> Result<Self, WebError> {
        let query = match raw.q.as_deref() {
            Some(q) => {
                Some(Query::parse(q).map_err(|e| bad("q", format!("invalid search query: {e}")))?)
            }
            None => None,
        };
        let since = raw
            .since
            .as_deref()
            .map(|v| parse_time("since", v, DayEdge::Start))
            .transpose()?;
        let until = raw
            .until
            .as_deref()
            .map(|v| parse_time("until", v, DayEdge::End))
            .transpose()?;
        if let (Some(since), Some(until)) = (since, until) {
            if since > until {
                return Err(bad("until", "is earlier than `since`".into()));
            }
        }
        let sort = match raw.sort.as_deref() {
            None | Some("newest") => SortOrder::Newest,
            Some("relevance") => SortOrder::Relevance,
            Some(other) => {
                return Err(bad(
                    "sort",
                    format!("{other:?} is not one of `newest`, `relevance`"),
                ))
            }
        };
        let flag = |name: &str, value: Option<&str>| match value {
            None => Ok(false),
            Some(v) => parse_flag(v).ok_or_else(|| {
                bad(
                    name,
                    format!("{v:?} is not a yes/no value (true, false, 1, 0, on, off)"),
                )
            }),
        };
        let hide_duplicates = flag("hide_duplicates", raw.hide_duplicates.as_deref())?;
        let hide_spam = flag("hide_spam", raw.hide_spam.as_deref())?;
        let one_of = |name: &str, value: Option<&String>, allowed: &[&str]| match value {
            Some(v) if !allowed.contains(&v.as_str()) => Err(bad(
                name,
                format!("{v:?} is not one of {}", allowed.join(", ")),
            )),
            _ => Ok(value.cloned()),
        };
        let sentiment = one_of("sentiment", raw.sentiment.as_ref(), &SENTIMENT_LABELS)?;
        let intent = one_of("intent", raw.intent.as_ref(), &INTENT_LABELS)?;
        let limit = match raw.limit.as_deref() {
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
        Ok(MentionParams {
            filter: MentionFilter {
                query: raw.q.clone(),
                brand: raw.brand.clone(),
                lang: raw.lang.clone(),
                source: raw.source.clone(),
                since,
                until,
                hide_duplicates,
                sentiment,
                intent,
                hide_spam,
            },
            sort,
            cursor: raw.cursor.clone(),
            limit,
            query,
        })
    }

    /// Whether a mention passes these filters; the live stream's counterpart of the search.
    pub fn admits(&self, mention: &earshot_core::Mention) -> bool {
        let f = &self.filter;
        if f.brand
            .as_deref()
            .is_some_and(|b| !mention.brands.iter().any(|mb| mb == b))
        {
            return false;
        }
        if f.lang.as_deref().is_some_and(|l| mention.lang != l) {
            return false;
        }
        if f.source.as_deref().is_some_and(|s| mention.source != s) {
            return false;
        }
        if f.since.is_some_and(|since| mention.published_at < since) {
            return false;
        }
        if f.until.is_some_and(|until| mention.published_at >= until) {
            return false;
        }
        if f.hide_duplicates && mention.duplicate_of.is_some() {
            return false;
        }
        if f.filters_analysis() {
            let shown = mention.shown_labels();
            let label_is = |label: &Option<earshot_core::ShownLabel>, wanted: &str| {
                label.as_ref().is_some_and(|l| l.label == wanted)
            };
            if f.sentiment
                .as_deref()
                .is_some_and(|s| !label_is(&shown.sentiment, s))
            {
                return false;
            }
            if f.intent
                .as_deref()
                .is_some_and(|i| !shown.intents.iter().any(|l| l.label == i))
            {
                return false;
            }
            if f.hide_spam && label_is(&shown.spam, "spam") {
                return false;
            }
        }
        match &self.query {
            None => true,
            Some(query) => {
                let text = match &mention.title {
                    Some(title) => format!("{title}\n{}", mention.text),
                    None => mention.text.clone(),
                };
                query.matches(&AnalyzedText::new(&text))
            }
        }
    }
}

fn bad(param: &str, problem: String) -> WebError {
    WebError::BadRequest(format!("parameter `{param}`: {problem}"))
}

fn parse_flag(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Some(true),
        "0" | "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum DayEdge {
    Start,
    End,
}

/// RFC 3339, or a bare date from the form: `since` takes the start of the day and `until`
/// the start of the next one (the store's `until` is exclusive), so `until=2026-01-31`
/// includes the whole of the 31st.
fn parse_time(param: &str, value: &str, edge: DayEdge) -> Result<DateTime<Utc>, WebError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|day| match edge {
            DayEdge::Start => Some(day),
            DayEdge::End => day.succ_opt(),
        });
    match day {
        Some(day) => Ok(day.and_time(NaiveTime::MIN).and_utc()),
        None => Err(bad(
            param,
            format!(
                "{value:?} is not an RFC 3339 time (2026-01-31T12:00:00Z) or a date (2026-01-31)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<MentionParams, WebError> {
        MentionParams::parse(&RawFilters::from_query(Some(query), LangParam::Api))
    }

    fn error_of(query: &str) -> String {
        match parse(query) {
            Err(WebError::BadRequest(m)) => m,
            other => panic!("expected a bad request for {query:?}, got {other:?}"),
        }
    }

    #[test]
    fn reads_every_filter() {
        let p = parse("brand=Zeltron&lang=ru&source=feed&since=2026-01-01&until=2026-01-31T10:00:00%2B03:00&sort=relevance&hide_duplicates=on&limit=7&cursor=abc").unwrap();
        assert_eq!(p.filter.brand.as_deref(), Some("Zeltron"));
        assert_eq!(p.filter.lang.as_deref(), Some("ru"));
        assert_eq!(p.filter.source.as_deref(), Some("feed"));
        assert_eq!(
            p.filter.since.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(
            p.filter.until.unwrap().to_rfc3339(),
            "2026-01-31T07:00:00+00:00"
        );
        assert_eq!(p.sort, SortOrder::Relevance);
        assert!(p.filter.hide_duplicates);
        assert_eq!(p.limit, 7);
        assert_eq!(p.cursor.as_deref(), Some("abc"));
    }

    #[test]
    fn empty_values_are_absent_and_defaults_apply() {
        let p = parse("q=&brand=&lang=&sort=&limit=").unwrap();
        assert_eq!(p.filter, MentionFilter::default());
        assert_eq!(p.sort, SortOrder::Newest);
        assert_eq!(p.limit, DEFAULT_LIMIT);
    }

    #[test]
    fn a_date_until_ends_where_the_next_day_starts() {
        let p = parse("until=2026-01-31").unwrap();
        assert_eq!(
            p.filter.until.unwrap().to_rfc3339(),
            "2026-02-01T00:00:00+00:00"
        );
    }

    #[test]
    fn bad_values_name_their_parameter() {
        assert!(error_of("limit=501").contains("`limit`"));
        assert!(error_of("limit=0").contains("`limit`"));
        assert!(error_of("limit=ten").contains("`limit`"));
        assert!(error_of("sort=oldest").contains("`sort`"));
        assert!(error_of("since=yesterday").contains("`since`"));
        assert!(error_of("hide_duplicates=maybe").contains("`hide_duplicates`"));
        assert!(error_of("since=2026-02-01&until=2026-01-01").contains("`until`"));
    }

    #[test]
    fn the_page_reads_the_mention_language_from_language() {
        let raw = RawFilters::from_query(Some("lang=ru&language=el"), LangParam::Page);
        assert_eq!(raw.lang.as_deref(), Some("el"));
        assert_eq!(raw.filter_pairs(LangParam::Page), vec![("language", "el")]);
    }
}
