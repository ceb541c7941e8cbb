//! Tracked links in post texts: UTM parameters added to a URL, and every link of a text replaced
//! by an Earshot short link (`{base}/l/{code}`). The types are `earshot_core::links`; the
//! functions live here because they need URL parsing and the link finder of this crate.

use earshot_core::links::{LinkError, NewTrackedLink, TrackingSettings, UtmParams};
use url::{form_urlencoded, Url};

use crate::urls::{special_spans, SpanKind};

/// `url` with the UTM parameters of `utm` appended. The URL's own query parameters (in their
/// original order and encoding) and its fragment are kept. A `utm_*` parameter the URL already
/// has is left as it is and not added again: **the URL's own value wins**, because whoever
/// wrote that link chose it on purpose. Only `http` and `https` URLs are accepted.
pub fn add_utm(url: &str, utm: &UtmParams) -> Result<String, LinkError> {
    utm.validate()?;
    let mut parsed = Url::parse(url.trim()).map_err(|e| LinkError::BadUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(LinkError::NotHttp(url.to_string()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(LinkError::BadUrl {
            url: url.to_string(),
            reason: "no host".into(),
        });
    }
    let existing: Vec<String> = parsed
        .query_pairs()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    let mut added = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in utm.pairs() {
        if !existing.iter().any(|e| e == name) {
            added.append_pair(name, value);
            any = true;
        }
    }
    if any {
        let added = added.finish();
        let query = match parsed.query().filter(|q| !q.is_empty()) {
            Some(old) => format!("{old}&{added}"),
            None => added,
        };
        parsed.set_query(Some(&query));
    }
    Ok(parsed.into())
}

/// The text with every http(s) link (including bare `www.` links) replaced by a short link, and
/// the links to create. Sentence punctuation after a URL stays in the text, outside the link.
/// A URL that appears twice gets one short link; links that already are this Earshot's short
/// links are left alone; other schemes (`mailto:`, `ftp://`) are not links to track.
/// `next_code` hands out fresh short codes (the caller makes them unique).
pub fn track_links(
    text: &str,
    settings: &TrackingSettings,
    next_code: &mut dyn FnMut() -> String,
) -> Result<(String, Vec<NewTrackedLink>), LinkError> {
    let own_prefix = format!("{}/l/", settings.base_url.trim_end_matches('/'));
    let mut out = String::with_capacity(text.len());
    let mut links: Vec<(String, NewTrackedLink)> = Vec::new();
    let mut copied_to = 0;
    for span in special_spans(text) {
        if span.kind != SpanKind::Url {
            continue;
        }
        let written = &text[span.start..span.end];
        if written.starts_with(&own_prefix) {
            continue;
        }
        let absolute = if written.len() >= 4 && written[..4].eq_ignore_ascii_case("www.") {
            format!("https://{written}")
        } else {
            written.to_string()
        };
        let code = match links.iter().find(|(original, _)| *original == absolute) {
            Some((_, link)) => link.code.clone(),
            None => {
                let target_url = add_utm(&absolute, &settings.utm)?;
                let link = NewTrackedLink {
                    code: next_code(),
                    target_url,
                    utm: settings.utm.clone(),
                    campaign_id: settings.campaign_id,
                    post_id: settings.post_id,
                };
                let code = link.code.clone();
                links.push((absolute, link));
                code
            }
        };
        out.push_str(&text[copied_to..span.start]);
        out.push_str(&settings.short_url(&code));
        copied_to = span.end;
    }
    out.push_str(&text[copied_to..]);
    Ok((out, links.into_iter().map(|(_, link)| link).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use earshot_core::CampaignId;

    fn utm() -> UtmParams {
        UtmParams {
            source: Some("mastodon".into()),
            medium: Some("social".into()),
            campaign: Some("spring-sale".into()),
            content: None,
            term: None,
        }
    }

    fn settings() -> TrackingSettings {
        TrackingSettings {
            base_url: "https://go.zeltron.com/".into(),
            utm: utm(),
            campaign_id: Some(CampaignId(3)),
            post_id: Some(42),
        }
    }

    fn codes() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("code{n:04}")
        }
    }

    #[test]
    fn utm_keeps_query_fragment_and_the_urls_own_utm() {
        assert_eq!(
            add_utm("https://zeltron.com/shop?ref=a%20b&x=1#reviews", &utm()).unwrap(),
            "https://zeltron.com/shop?ref=a%20b&x=1&utm_source=mastodon&utm_medium=social&utm_campaign=spring-sale#reviews"
        );
        assert_eq!(
            add_utm("https://zeltron.com/?utm_source=newsletter", &utm()).unwrap(),
            "https://zeltron.com/?utm_source=newsletter&utm_medium=social&utm_campaign=spring-sale",
            "the URL's own utm_source wins"
        );
        assert_eq!(
            add_utm("https://zeltron.com/a?b", &UtmParams::default()).unwrap(),
            "https://zeltron.com/a?b"
        );
        let spaced = UtmParams {
            campaign: Some("Spring & Summer".into()),
            ..UtmParams::default()
        };
        assert_eq!(
            add_utm("http://zeltron.com", &spaced).unwrap(),
            "http://zeltron.com/?utm_campaign=Spring+%26+Summer"
        );
        assert!(matches!(
            add_utm("mailto:sales@zeltron.com", &utm()),
            Err(LinkError::NotHttp(_))
        ));
        assert!(matches!(
            add_utm("not a url", &utm()),
            Err(LinkError::BadUrl { .. })
        ));
    }

    #[test]
    fn every_link_of_a_text_becomes_a_short_link() {
        let text = "New! https://zeltron.com/phone?color=red, and (www.zeltron.com/store). \
                    Again: https://zeltron.com/phone?color=red. Mail sales@zeltron.com or mailto:x@y.z; ftp://files.zeltron.com/a";
        let (tracked, links) = track_links(text, &settings(), &mut codes()).unwrap();
        assert_eq!(
            tracked,
            "New! https://go.zeltron.com/l/code0001, and (https://go.zeltron.com/l/code0002). \
             Again: https://go.zeltron.com/l/code0001. Mail sales@zeltron.com or mailto:x@y.z; ftp://files.zeltron.com/a"
        );
        assert_eq!(links.len(), 2, "one link per distinct URL");
        assert_eq!(
            links[0].target_url,
            "https://zeltron.com/phone?color=red&utm_source=mastodon&utm_medium=social&utm_campaign=spring-sale"
        );
        assert_eq!(
            links[1].target_url,
            "https://www.zeltron.com/store?utm_source=mastodon&utm_medium=social&utm_campaign=spring-sale"
        );
        assert_eq!(links[0].campaign_id, Some(CampaignId(3)));
        assert_eq!(links[1].post_id, Some(42));
    }

    #[test]
    fn texts_without_links_and_own_short_links_are_unchanged() {
        let text = "Already short: https://go.zeltron.com/l/abcd1234 and nothing else. Привет!";
        let (tracked, links) = track_links(text, &settings(), &mut codes()).unwrap();
        assert_eq!(tracked, text);
        assert!(links.is_empty());
        let (tracked, links) = track_links("", &settings(), &mut codes()).unwrap();
        assert!(tracked.is_empty() && links.is_empty());
    }

    #[test]
    fn a_url_with_its_own_utm_keeps_it_in_the_text_links() {
        let (_, links) = track_links(
            "See https://zeltron.com/?utm_campaign=mine&utm_content=hero!",
            &settings(),
            &mut codes(),
        )
        .unwrap();
        assert_eq!(
            links[0].target_url,
            "https://zeltron.com/?utm_campaign=mine&utm_content=hero&utm_source=mastodon&utm_medium=social"
        );
    }
}
