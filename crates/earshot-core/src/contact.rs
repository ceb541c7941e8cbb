//! How to reach a person outside Earshot: the e-mail address a user may have, used for SLA
//! escalations to a team's manager.

use serde::{Deserialize, Serialize};

/// The longest address SMTP carries (RFC 5321: 254 characters in a forward path).
pub const MAX_EMAIL_CHARS: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the e-mail address is empty")]
    Empty,
    #[error("e-mail address {0:?} is too long (at most 254 characters)")]
    TooLong(String),
    #[error("e-mail address {0:?} needs exactly one `@` between a name and a domain")]
    Shape(String),
    #[error(
        "e-mail address {0:?} may not hold spaces, control characters, quotes, commas, \
         brackets or angle brackets"
    )]
    BadCharacter(String),
    #[error("e-mail address {0:?}: the domain needs a dot and labels of letters, digits and `-`")]
    BadDomain(String),
}

/// A checked e-mail address: `name@domain.tld`, trimmed, the domain in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Check an address typed by a person. Only the plain `local@domain` form is taken:
    /// display names, comments and quoted local parts are refused, since the address goes
    /// into an SMTP envelope and a header as it is.
    pub fn parse(raw: &str) -> Result<EmailAddress, EmailError> {
        let address = raw.trim();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if address.chars().count() > MAX_EMAIL_CHARS {
            return Err(EmailError::TooLong(address.to_string()));
        }
        if address.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '"' | ',' | ';' | '<' | '>' | '(' | ')' | '[' | ']' | '\\'
                )
        }) {
            return Err(EmailError::BadCharacter(address.to_string()));
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err(EmailError::Shape(address.to_string()));
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err(EmailError::Shape(address.to_string()));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let good_label = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(good_label) {
            return Err(EmailError::BadDomain(address.to_string()));
        }
        Ok(EmailAddress(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        EmailAddress::parse(raw)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&raw)
    }
}

impl From<EmailAddress> for String {
    fn from(address: EmailAddress) -> String {
        address.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_are_taken_trimmed_with_the_domain_in_lower_case() {
        let address = EmailAddress::parse("  Maria.Lead+sla@Brand.Example ").unwrap();
        assert_eq!(address.as_str(), "Maria.Lead+sla@brand.example");
        assert_eq!(
            "ops@mail.brand.example"
                .parse::<EmailAddress>()
                .unwrap()
                .to_string(),
            "ops@mail.brand.example"
        );
    }

    #[test]
    fn malformed_addresses_are_refused_with_the_reason() {
        assert_eq!(EmailAddress::parse("  "), Err(EmailError::Empty));
        for shape in ["maria", "@brand.example", "maria@", "a@b@brand.example"] {
            assert_eq!(
                EmailAddress::parse(shape),
                Err(EmailError::Shape(shape.into())),
                "{shape}"
            );
        }
        for bad in [
            "maria lead@brand.example",
            "Maria <maria@brand.example>",
            "maria@brand.example,eve@evil.example",
            "maria@brand.example\r\nBcc: eve@evil.example",
        ] {
            assert!(
                matches!(EmailAddress::parse(bad), Err(EmailError::BadCharacter(_))),
                "{bad:?}"
            );
        }
        for domain in [
            "maria@localhost",
            "maria@brand..example",
            "maria@-brand.example",
        ] {
            assert!(
                matches!(EmailAddress::parse(domain), Err(EmailError::BadDomain(_))),
                "{domain}"
            );
        }
        let long = format!("{}@brand.example", "a".repeat(250));
        assert!(matches!(
            EmailAddress::parse(&long),
            Err(EmailError::TooLong(_))
        ));
        let message = EmailAddress::parse("maria").unwrap_err().to_string();
        assert!(
            message.contains("\"maria\"") && message.contains('@'),
            "{message}"
        );
    }

    #[test]
    fn addresses_deserialize_only_when_valid() {
        let good: EmailAddress = serde_json::from_str("\"ops@brand.example\"").unwrap();
        assert_eq!(good.as_str(), "ops@brand.example");
        assert!(serde_json::from_str::<EmailAddress>("\"not an address\"").is_err());
    }
}
