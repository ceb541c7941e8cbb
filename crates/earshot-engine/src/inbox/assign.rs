//! Picking the member who takes a new conversation.
//!
//! Only members on shift (the team's working hours contain `now`) and under the team's capacity
//! (open conversations: assigned plus waiting) are candidates. Round-robin takes the next
//! candidate after the last one it picked for the team, in the order members are configured;
//! least-loaded takes the candidate with the fewest open conversations (ties: configuration
//! order). No candidate, e.g. at night or when everyone is full: nobody, the conversation waits
//! in the team's queue. A rule naming a member assigns to that member regardless of shift and
//! capacity: whoever wrote the rule asked for that person.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use earshot_core::AssignStrategy;

use super::rules::Team;

/// Remembers, per team, whom round-robin picked last, so turns go around across batches.
#[derive(Debug, Default)]
pub struct Assigner {
    last_picked: Mutex<HashMap<String, usize>>,
}

impl Assigner {
    pub fn new() -> Self {
        Assigner::default()
    }

    /// The member to assign, or `None` for the team queue. `open_load` gives a member's open
    /// conversations in this team (0 when unknown).
    pub fn choose(
        &self,
        team: &Team,
        strategy: &AssignStrategy,
        open_load: &dyn Fn(&str) -> u64,
        now: DateTime<Utc>,
    ) -> Option<String> {
        if let AssignStrategy::Member(member) = strategy {
            return Some(member.clone());
        }
        if team.members.is_empty() || !team.hours.is_open(now) {
            return None;
        }
        let capacity = u64::from(team.capacity);
        let available = |index: usize| open_load(&team.members[index]) < capacity;
        match strategy {
            AssignStrategy::RoundRobin => {
                let mut last_picked = self.last_picked.lock().unwrap_or_else(|e| e.into_inner());
                let start = last_picked
                    .get(&team.name)
                    .map_or(0, |last| (last + 1) % team.members.len());
                let picked = (0..team.members.len())
                    .map(|offset| (start + offset) % team.members.len())
                    .find(|&index| available(index))?;
                last_picked.insert(team.name.clone(), picked);
                Some(team.members[picked].clone())
            }
            AssignStrategy::LeastLoaded => (0..team.members.len())
                .filter(|&index| available(index))
                .min_by_key(|&index| open_load(&team.members[index]))
                .map(|index| team.members[index].clone()),
            AssignStrategy::Member(_) => unreachable!("handled above"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::hours::WorkingHours;

    fn team(capacity: u32) -> Team {
        Team {
            name: "support".into(),
            members: vec!["anna".into(), "boris".into(), "chen".into()],
            manager: Some("maria".into()),
            capacity,
            hours: WorkingHours::office_week_utc(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    const WEDNESDAY_NOON: &str = "2026-03-04T12:00:00Z";
    const WEDNESDAY_NIGHT: &str = "2026-03-04T23:00:00Z";
    const SATURDAY_NOON: &str = "2026-03-07T12:00:00Z";

    #[test]
    fn round_robin_takes_turns_and_skips_the_full() {
        let assigner = Assigner::new();
        let team = team(2);
        let loads: HashMap<&str, u64> = [("anna", 0), ("boris", 2), ("chen", 1)].into();
        let load = |m: &str| loads.get(m).copied().unwrap_or(0);
        let picks: Vec<_> = (0..4)
            .map(|_| {
                assigner.choose(
                    &team,
                    &AssignStrategy::RoundRobin,
                    &load,
                    at(WEDNESDAY_NOON),
                )
            })
            .collect();
        // boris is at capacity (2 of 2) and is passed by.
        assert_eq!(
            picks,
            ["anna", "chen", "anna", "chen"].map(|m| Some(m.to_string()))
        );
    }

    #[test]
    fn least_loaded_takes_the_emptiest_under_capacity() {
        let assigner = Assigner::new();
        let loads: HashMap<&str, u64> = [("anna", 3), ("boris", 1), ("chen", 1)].into();
        let load = |m: &str| loads.get(m).copied().unwrap_or(0);
        assert_eq!(
            assigner.choose(
                &team(5),
                &AssignStrategy::LeastLoaded,
                &load,
                at(WEDNESDAY_NOON)
            ),
            Some("boris".into())
        );
        // Everyone full: the team queue.
        assert_eq!(
            assigner.choose(
                &team(1),
                &AssignStrategy::LeastLoaded,
                &load,
                at(WEDNESDAY_NOON)
            ),
            None
        );
    }

    #[test]
    fn off_shift_goes_to_the_queue_unless_a_member_is_named() {
        let assigner = Assigner::new();
        let load = |_: &str| 0;
        for when in [WEDNESDAY_NIGHT, SATURDAY_NOON] {
            for strategy in [AssignStrategy::RoundRobin, AssignStrategy::LeastLoaded] {
                assert_eq!(assigner.choose(&team(5), &strategy, &load, at(when)), None);
            }
            assert_eq!(
                assigner.choose(
                    &team(5),
                    &AssignStrategy::Member("chen".into()),
                    &load,
                    at(when)
                ),
                Some("chen".into())
            );
        }
    }

    #[test]
    fn an_empty_team_assigns_nobody() {
        let mut empty = team(5);
        empty.members.clear();
        assert_eq!(
            Assigner::new().choose(
                &empty,
                &AssignStrategy::RoundRobin,
                &|_| 0,
                at(WEDNESDAY_NOON)
            ),
            None
        );
    }
}
