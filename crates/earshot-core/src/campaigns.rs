//! Campaigns: a business goal with a target, a budget, dates, the posts and links that serve it,
//! and what was spent. The report puts what the business got first — spend, clicks by people,
//! conversions, their value, cost per conversion and ROI — computed here without I/O and
//! without floating point: money is integer minor units of one currency.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Store-assigned identifier of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CampaignId(pub i64);

impl std::fmt::Display for CampaignId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An ISO 4217 currency code: three letters, kept upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let code = code.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Currency(code.to_ascii_uppercase()))
        } else {
            Err(MoneyError::BadCurrency(code.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point (ISO 4217): 0 for yen and won, 3 for the dinars of
    /// Bahrain, Iraq, Jordan, Kuwait, Libya, Oman and Tunisia, 2 for the rest.
    pub fn minor_digits(&self) -> u32 {
        match self.0.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.0
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("invalid currency {0:?}: use a three-letter ISO 4217 code such as EUR or USD")]
    BadCurrency(String),
    #[error("invalid amount {amount:?}: {reason}")]
    BadAmount { amount: String, reason: String },
}

/// An amount of one currency in minor units (cents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// `"120.5"` EUR → 12050. At most the currency's number of decimals; no sign, no
    /// thousands separators, no exponent: an amount typed wrong is refused, never guessed.
    pub fn parse(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let text = amount.trim();
        let bad = |reason: &str| MoneyError::BadAmount {
            amount: amount.to_string(),
            reason: reason.to_string(),
        };
        let digits = currency.minor_digits();
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                "write digits, optionally with a decimal point (120.50)",
            ));
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit())
            || (text.contains('.') && fraction.is_empty())
        {
            return Err(bad("only digits may follow the decimal point"));
        }
        if fraction.len() as u32 > digits {
            return Err(bad(&format!("{currency} has {digits} decimal places")));
        }
        let scale = 10i64.pow(digits);
        let whole: i64 = whole.parse().map_err(|_| bad("too large"))?;
        let mut fraction_value: i64 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| bad("too large"))?
        };
        for _ in fraction.len() as u32..digits {
            fraction_value *= 10;
        }
        let minor = whole
            .checked_mul(scale)
            .and_then(|m| m.checked_add(fraction_value))
            .ok_or_else(|| bad("too large"))?;
        Ok(Money { minor, currency })
    }

    /// `12050` EUR → `"120.50"`.
    pub fn format_minor(minor: i64, currency: &Currency) -> String {
        let digits = currency.minor_digits();
        if digits == 0 {
            return minor.to_string();
        }
        let scale = 10i64.pow(digits).unsigned_abs();
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = digits as usize
        )
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            Money::format_minor(self.minor, &self.currency),
            self.currency
        )
    }
}

/// What a campaign is for, as a business outcome (not followers or likes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    Leads,
    Sales,
    SignUps,
    ResolvedComplaints,
    /// A conversion kind of the workspace's own (`custom_goal` names it).
    Custom,
}

impl Goal {
    pub const ALL: [Goal; 5] = [
        Goal::Leads,
        Goal::Sales,
        Goal::SignUps,
        Goal::ResolvedComplaints,
        Goal::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Leads => "leads",
            Goal::Sales => "sales",
            Goal::SignUps => "sign_ups",
            Goal::ResolvedComplaints => "resolved_complaints",
            Goal::Custom => "custom",
        }
    }

    pub fn parse(text: &str) -> Result<Goal, String> {
        Goal::ALL
            .into_iter()
            .find(|g| g.as_str() == text.trim())
            .ok_or_else(|| {
                format!(
                    "unknown goal {text:?}: one of leads, sales, sign_ups, resolved_complaints, custom"
                )
            })
    }
}

/// A campaign to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCampaign {
    pub name: String,
    /// The `utm_campaign` its links carry; conversions reported with it count for it.
    pub utm_campaign: String,
    pub goal: Goal,
    /// The conversion kind a `custom` goal counts.
    pub custom_goal: Option<String>,
    /// How many goal conversions the campaign should bring.
    pub target: Option<i64>,
    pub budget: Option<Money>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    /// Posts that serve it (ids of the posts part of the product).
    pub post_ids: Vec<i64>,
}

pub const MAX_CAMPAIGN_NAME_CHARS: usize = 100;

/// `"Spring Sale 2027"` → `"spring-sale-2027"`: the default `utm_campaign` of a campaign.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

impl NewCampaign {
    /// Checks a campaign before it is stored; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_CAMPAIGN_NAME_CHARS {
            return Err(format!(
                "name must have 1 to {MAX_CAMPAIGN_NAME_CHARS} characters"
            ));
        }
        if self.utm_campaign.is_empty()
            || self.utm_campaign.len() > MAX_CAMPAIGN_NAME_CHARS
            || !self
                .utm_campaign
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "utm_campaign {:?} must be 1 to {MAX_CAMPAIGN_NAME_CHARS} lower-case letters, digits, '-' or '_'",
                self.utm_campaign
            ));
        }
        if self.goal == Goal::Custom
            && self
                .custom_goal
                .as_deref()
                .is_none_or(|g| g.trim().is_empty())
        {
            return Err("a custom goal needs the conversion kind it counts (custom_goal)".into());
        }
        if self.target.is_some_and(|t| t < 0) {
            return Err("target must not be negative".into());
        }
        if self.budget.as_ref().is_some_and(|b| b.minor < 0) {
            return Err("budget must not be negative".into());
        }
        if self.ends_on.is_some_and(|end| end < self.starts_on) {
            return Err("the end date is before the start date".into());
        }
        if self.post_ids.iter().any(|&id| id <= 0) {
            return Err("post ids are positive whole numbers".into());
        }
        Ok(())
    }
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub utm_campaign: String,
    pub goal: Goal,
    pub custom_goal: Option<String>,
    pub target: Option<i64>,
    pub budget: Option<Money>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub post_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
}

impl Campaign {
    /// The conversion kind that counts towards the goal.
    pub fn goal_kind(&self) -> &str {
        match self.goal {
            Goal::Leads => "lead",
            Goal::Sales => "sale",
            Goal::SignUps => "sign_up",
            Goal::ResolvedComplaints => "resolved_complaint",
            Goal::Custom => self.custom_goal.as_deref().unwrap_or("custom"),
        }
    }
}

/// Money spent on a campaign (ads, agency, production).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSpend {
    pub amount: Money,
    pub spent_on: NaiveDate,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendEntry {
    pub id: i64,
    pub campaign_id: CampaignId,
    pub amount: Money,
    pub spent_on: NaiveDate,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

/// Conversions of one currency and kind attributed to a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionTotal {
    pub currency: Currency,
    pub kind: String,
    pub count: u64,
    pub value: i64,
}

/// What the store counts for a campaign's report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignFigures {
    /// Clicks by people on the campaign's links (crawlers left out).
    pub clicks_human: u64,
    /// Fetches by crawlers and link previewers, shown apart.
    pub clicks_bot: u64,
    pub conversions: Vec<ConversionTotal>,
    /// Spend summed per currency.
    pub spend: Vec<Money>,
}

/// The money figures of one currency. Amounts of different currencies are never added up:
/// without an exchange rate of the day that would be a made-up number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyRow {
    pub currency: Currency,
    pub spend: i64,
    pub budget: Option<i64>,
    pub conversions: u64,
    pub conversion_value: i64,
    /// `spend / conversions`, rounded to the minor unit; `None` with no conversions.
    pub cost_per_conversion: Option<i64>,
    /// `(value − spend) / spend` in basis points (1 % = 100); `None` when nothing was spent.
    pub roi_basis_points: Option<i64>,
}

/// The campaign report: business figures first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignReport {
    pub campaign: Campaign,
    pub clicks_human: u64,
    pub clicks_bot: u64,
    /// Conversions of every kind and currency.
    pub conversions: u64,
    /// Conversions of the goal's kind, against the target.
    pub goal_conversions: u64,
    /// Human clicks per conversion, in basis points (conversion rate); `None` without clicks.
    pub conversion_rate_basis_points: Option<i64>,
    /// One row per currency that has spend, budget or conversions, by currency code.
    pub rows: Vec<CurrencyRow>,
}

fn divide_rounded(numerator: i128, denominator: i128) -> i64 {
    // Half away from zero, in integers.
    let quotient = (numerator.abs() * 2 + denominator.abs()) / (denominator.abs() * 2);
    let signed = if (numerator < 0) != (denominator < 0) {
        -quotient
    } else {
        quotient
    };
    signed.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn row_for<'a>(
    rows: &'a mut BTreeMap<Currency, CurrencyRow>,
    currency: &Currency,
) -> &'a mut CurrencyRow {
    rows.entry(currency.clone()).or_insert_with(|| CurrencyRow {
        currency: currency.clone(),
        spend: 0,
        budget: None,
        conversions: 0,
        conversion_value: 0,
        cost_per_conversion: None,
        roi_basis_points: None,
    })
}

/// `12345` basis points → `"123.45 %"`.
pub fn format_basis_points(basis_points: i64) -> String {
    let sign = if basis_points < 0 { "-" } else { "" };
    let abs = basis_points.unsigned_abs();
    format!("{sign}{}.{:02} %", abs / 100, abs % 100)
}

impl CampaignReport {
    pub fn compute(campaign: Campaign, figures: &CampaignFigures) -> CampaignReport {
        let mut rows: BTreeMap<Currency, CurrencyRow> = BTreeMap::new();
        for spend in &figures.spend {
            let row = row_for(&mut rows, &spend.currency);
            row.spend = row.spend.saturating_add(spend.minor);
        }
        if let Some(budget) = &campaign.budget {
            row_for(&mut rows, &budget.currency).budget = Some(budget.minor);
        }
        let mut conversions = 0u64;
        let mut goal_conversions = 0u64;
        for total in &figures.conversions {
            conversions += total.count;
            if total.kind == campaign.goal_kind() {
                goal_conversions += total.count;
            }
            let row = row_for(&mut rows, &total.currency);
            row.conversions += total.count;
            row.conversion_value = row.conversion_value.saturating_add(total.value);
        }
        for r in rows.values_mut() {
            if r.conversions > 0 {
                r.cost_per_conversion =
                    Some(divide_rounded(r.spend as i128, r.conversions as i128));
            }
            if r.spend > 0 {
                r.roi_basis_points = Some(divide_rounded(
                    (r.conversion_value as i128 - r.spend as i128) * 10_000,
                    r.spend as i128,
                ));
            }
        }
        let conversion_rate_basis_points = (figures.clicks_human > 0)
            .then(|| divide_rounded(conversions as i128 * 10_000, figures.clicks_human as i128));
        CampaignReport {
            campaign,
            clicks_human: figures.clicks_human,
            clicks_bot: figures.clicks_bot,
            conversions,
            goal_conversions,
            conversion_rate_basis_points,
            rows: rows.into_values().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::parse("eur").unwrap()
    }

    fn campaign(goal: Goal, budget: Option<Money>) -> Campaign {
        Campaign {
            id: CampaignId(1),
            name: "Spring".into(),
            utm_campaign: "spring".into(),
            goal,
            custom_goal: None,
            target: Some(10),
            budget,
            starts_on: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
            ends_on: None,
            post_ids: vec![],
            created_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        }
    }

    fn total(currency: &str, kind: &str, count: u64, value: i64) -> ConversionTotal {
        ConversionTotal {
            currency: Currency::parse(currency).unwrap(),
            kind: kind.into(),
            count,
            value,
        }
    }

    #[test]
    fn money_parses_and_prints_in_minor_units() {
        assert_eq!(Money::parse("120.5", eur()).unwrap().minor, 12050);
        assert_eq!(Money::parse("120", eur()).unwrap().minor, 12000);
        assert_eq!(Money::parse("0.07", eur()).unwrap().minor, 7);
        let yen = Currency::parse("JPY").unwrap();
        assert_eq!(Money::parse("1500", yen.clone()).unwrap().minor, 1500);
        assert!(Money::parse("1500.5", yen).is_err());
        let dinar = Currency::parse("KWD").unwrap();
        assert_eq!(Money::parse("1.234", dinar).unwrap().minor, 1234);
        for bad in [
            "",
            "-5",
            "1,5",
            "1e3",
            "1.",
            ".5",
            "1.234",
            "99999999999999999999",
        ] {
            assert!(Money::parse(bad, eur()).is_err(), "{bad:?}");
        }
        assert_eq!(Money::format_minor(12050, &eur()), "120.50");
        assert_eq!(Money::format_minor(-7, &eur()), "-0.07");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
    }

    #[test]
    fn report_figures_follow_the_definitions() {
        let figures = CampaignFigures {
            clicks_human: 400,
            clicks_bot: 90,
            conversions: vec![total("EUR", "sale", 3, 30_000), total("EUR", "lead", 2, 0)],
            spend: vec![Money {
                minor: 12_000,
                currency: eur(),
            }],
        };
        let report = CampaignReport::compute(
            campaign(
                Goal::Sales,
                Some(Money {
                    minor: 50_000,
                    currency: eur(),
                }),
            ),
            &figures,
        );
        assert_eq!(report.conversions, 5);
        assert_eq!(report.goal_conversions, 3);
        assert_eq!(report.conversion_rate_basis_points, Some(125)); // 5 / 400 = 1.25 %
        assert_eq!(report.rows.len(), 1);
        let row = &report.rows[0];
        assert_eq!(row.spend, 12_000);
        assert_eq!(row.budget, Some(50_000));
        assert_eq!(row.conversion_value, 30_000);
        assert_eq!(row.cost_per_conversion, Some(2_400)); // 120.00 / 5
        assert_eq!(row.roi_basis_points, Some(15_000)); // (300 − 120) / 120 = 150 %
        assert_eq!(format_basis_points(15_000), "150.00 %");
        assert_eq!(format_basis_points(-3_333), "-33.33 %");
    }

    #[test]
    fn zero_spend_and_no_conversions_have_no_ratios() {
        let report =
            CampaignReport::compute(campaign(Goal::Leads, None), &CampaignFigures::default());
        assert!(report.rows.is_empty());
        assert_eq!(report.conversion_rate_basis_points, None);

        let only_value = CampaignFigures {
            clicks_human: 3,
            conversions: vec![total("USD", "lead", 1, 500)],
            ..CampaignFigures::default()
        };
        let report = CampaignReport::compute(campaign(Goal::Leads, None), &only_value);
        assert_eq!(
            report.rows[0].roi_basis_points, None,
            "no spend: ROI undefined"
        );
        assert_eq!(report.rows[0].cost_per_conversion, Some(0));

        let only_spend = CampaignFigures {
            spend: vec![Money {
                minor: 1_000,
                currency: eur(),
            }],
            ..CampaignFigures::default()
        };
        let report = CampaignReport::compute(campaign(Goal::Leads, None), &only_spend);
        assert_eq!(report.rows[0].cost_per_conversion, None);
        assert_eq!(report.rows[0].roi_basis_points, Some(-10_000)); // all lost: −100 %
    }

    #[test]
    fn currencies_are_never_added_together() {
        let figures = CampaignFigures {
            clicks_human: 10,
            clicks_bot: 0,
            conversions: vec![
                total("USD", "sale", 1, 10_000),
                total("EUR", "sale", 2, 4_000),
            ],
            spend: vec![Money {
                minor: 2_000,
                currency: eur(),
            }],
        };
        let report = CampaignReport::compute(campaign(Goal::Sales, None), &figures);
        let codes: Vec<&str> = report.rows.iter().map(|r| r.currency.as_str()).collect();
        assert_eq!(codes, ["EUR", "USD"]);
        assert_eq!(report.rows[0].roi_basis_points, Some(10_000)); // (40 − 20) / 20
        assert_eq!(report.rows[1].spend, 0);
        assert_eq!(report.rows[1].roi_basis_points, None);
        assert_eq!(report.goal_conversions, 3);
    }

    #[test]
    fn campaigns_are_validated() {
        let mut new = NewCampaign {
            name: "Spring Sale 2027".into(),
            utm_campaign: slug("Spring Sale 2027!"),
            goal: Goal::Custom,
            custom_goal: None,
            target: Some(5),
            budget: None,
            starts_on: NaiveDate::from_ymd_opt(2027, 3, 1).unwrap(),
            ends_on: NaiveDate::from_ymd_opt(2027, 2, 1),
            post_ids: vec![7],
        };
        assert_eq!(new.utm_campaign, "spring-sale-2027");
        assert!(new.validate().unwrap_err().contains("custom_goal"));
        new.custom_goal = Some("demo_booked".into());
        assert!(new.validate().unwrap_err().contains("end date"));
        new.ends_on = None;
        assert!(new.validate().is_ok());
        new.utm_campaign = "Has Space".into();
        assert!(new.validate().unwrap_err().contains("utm_campaign"));
        assert_eq!(Goal::parse("sign_ups"), Ok(Goal::SignUps));
        assert!(Goal::parse("followers").is_err());
    }
}
