//! Moving a conversation to another team: which SLA deadlines it keeps.
//!
//! The promise to the customer was made when the conversation opened, so a move does not
//! restart the clocks. What can change is the calendar they count in: when the new team works
//! other hours (time zone or shifts), the deadlines are recomputed from the moment the
//! conversation opened, in the new team's hours, as if it had been theirs from the start.
//! Same hours: the deadlines stay exactly as they were. A clock that already stopped (first
//! response given, resolved) keeps its deadline, and ignored conversations have none.

use earshot_core::{Conversation, ConversationState, SlaDue};

use super::rules::RoutingRules;

/// The deadlines to store with a move of `conversation` to `new_team` (`None`: the shared
/// queue), or `None` to keep the current ones.
pub fn deadlines_after_move(
    rules: &RoutingRules,
    conversation: &Conversation,
    new_team: Option<&str>,
) -> Option<SlaDue> {
    if conversation.state == ConversationState::Ignored {
        return None;
    }
    if rules.hours_for(conversation.team.as_deref()) == rules.hours_for(new_team) {
        return None;
    }
    let computed = rules.deadlines(new_team, conversation.priority, conversation.created_at);
    Some(SlaDue {
        first_response: if conversation.first_response_at.is_some() {
            conversation.first_response_due
        } else {
            Some(computed.first_response)
        },
        resolution: if conversation.resolved_at.is_some() {
            conversation.resolution_due
        } else {
            Some(computed.resolution)
        },
    })
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use earshot_core::{
        Config, ConversationId, MentionId, Priority, TeamConfig, WorkingRangeConfig,
    };

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// support and sales work the default office week in UTC; night works 22:00-24:00 UTC
    /// every weekday.
    fn rules() -> RoutingRules {
        let mut night = TeamConfig::new("night");
        night.hours = vec![WorkingRangeConfig {
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            start: "22:00".into(),
            end: "24:00".into(),
        }];
        let config = Config {
            teams: vec![TeamConfig::new("support"), TeamConfig::new("sales"), night],
            ..Config::default()
        };
        RoutingRules::compile(&config).unwrap()
    }

    fn conversation(rules: &RoutingRules, team: &str, opened: DateTime<Utc>) -> Conversation {
        let deadlines = rules.deadlines(Some(team), Priority::High, opened);
        Conversation {
            id: ConversationId(1),
            state: ConversationState::New,
            priority: Priority::High,
            team: Some(team.into()),
            assignee: None,
            tags: Vec::new(),
            brands: Vec::new(),
            source: "mastodon".into(),
            lang: "en".into(),
            root_mention: MentionId(1),
            mention_count: 1,
            author_handle: None,
            author_name: None,
            author_followers: None,
            first_mention_at: opened,
            last_mention_at: opened,
            routed_by: None,
            routing_reason: None,
            negative: false,
            first_response_due: Some(deadlines.first_response),
            resolution_due: Some(deadlines.resolution),
            first_response_at: None,
            resolved_at: None,
            first_response_overdue: false,
            resolution_overdue: false,
            created_at: opened,
            updated_at: opened,
        }
    }

    #[test]
    fn same_hours_keep_the_deadlines() {
        let rules = rules();
        let c = conversation(&rules, "support", at("2026-03-04T10:00:00Z"));
        assert_eq!(deadlines_after_move(&rules, &c, Some("sales")), None);
        // The shared queue works the same office week.
        assert_eq!(deadlines_after_move(&rules, &c, None), None);
    }

    #[test]
    fn other_hours_recompute_from_the_opening() {
        let rules = rules();
        // Wednesday 10:00; high = 4h first response, 24h resolution of working time.
        let c = conversation(&rules, "support", at("2026-03-04T10:00:00Z"));
        let due = deadlines_after_move(&rules, &c, Some("night")).unwrap();
        // Night shift: 2h on Wednesday night, 2h on Thursday night.
        assert_eq!(due.first_response, Some(at("2026-03-06T00:00:00Z")));
        // 24h of 2h nights: 12 nights, Wednesday 4 March to Thursday 19 March.
        assert_eq!(due.resolution, Some(at("2026-03-20T00:00:00Z")));
    }

    #[test]
    fn stopped_clocks_and_ignored_conversations_keep_theirs() {
        let rules = rules();
        let mut c = conversation(&rules, "support", at("2026-03-04T10:00:00Z"));
        c.first_response_at = Some(at("2026-03-04T11:00:00Z"));
        let due = deadlines_after_move(&rules, &c, Some("night")).unwrap();
        assert_eq!(due.first_response, c.first_response_due);
        assert_ne!(due.resolution, c.resolution_due);
        c.state = ConversationState::Ignored;
        assert_eq!(deadlines_after_move(&rules, &c, Some("night")), None);
    }
}
