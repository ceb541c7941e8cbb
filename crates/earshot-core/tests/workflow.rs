//! The post workflow under random sequences of actions by random people: no sequence lets an
//! author approve their own post, or reach `scheduled`/`published` without every step
//! approved, in order, by eligible reviewers, after the last edit.

use chrono::{TimeZone, Utc};
use earshot_core::{Actor, PostAction, PostState, Role, WorkflowState};
use proptest::prelude::*;

const STEPS: [&str; 2] = ["marketing", "legal"];

fn people() -> Vec<Actor> {
    vec![
        // The author, an admin in both teams: the most tempting case.
        Actor::new(
            "anna",
            Role::Admin,
            vec!["marketing".into(), "legal".into()],
        ),
        Actor::new("mark", Role::Agent, vec!["marketing".into()]),
        Actor::new("lena", Role::Agent, vec!["legal".into()]),
        Actor::new(
            "vic",
            Role::Viewer,
            vec!["marketing".into(), "legal".into()],
        ),
        Actor::new("max", Role::Manager, vec![]),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    Act(usize, u8),
    /// The worker publishes a scheduled post.
    Publish,
}

fn action(code: u8) -> PostAction {
    match code % 7 {
        0 => PostAction::Edit,
        1 => PostAction::Submit,
        2 => PostAction::Approve,
        3 => PostAction::Reject {
            comment: if code.is_multiple_of(2) {
                "fix it".into()
            } else {
                String::new()
            },
        },
        4 => PostAction::Withdraw,
        5 => PostAction::Schedule {
            at: Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap(),
        },
        _ => PostAction::Unschedule,
    }
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            8 => (0usize..5, any::<u8>()).prop_map(|(who, code)| Step::Act(who, code)),
            1 => Just(Step::Publish),
        ],
        0..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn no_sequence_skips_or_self_approves(sequence in steps()) {
        let people = people();
        let steps: Vec<String> = STEPS.iter().map(|s| s.to_string()).collect();
        let mut state = PostState::Draft;
        // (step, approver) of the current text.
        let mut approvals: Vec<(String, String)> = Vec::new();
        for step in sequence {
            match step {
                Step::Publish => {
                    if state == PostState::Scheduled {
                        state = PostState::Published;
                    }
                }
                Step::Act(who, code) => {
                    let actor = &people[who];
                    let approved: Vec<String> = approvals.iter().map(|(s, _)| s.clone()).collect();
                    let workflow = WorkflowState {
                        state,
                        author: "anna",
                        steps: &steps,
                        approved: &approved,
                        variant_count: 1,
                    };
                    if let Ok(transition) = workflow.apply(actor, &action(code)) {
                        if transition.clears_approvals {
                            approvals.clear();
                        }
                        if let Some(step) = transition.approves {
                            prop_assert_ne!(&actor.name, "anna");
                            prop_assert!(actor.role >= Role::Agent);
                            prop_assert!(actor.teams.contains(&step));
                            approvals.push((step, actor.name.clone()));
                        }
                        state = transition.to;
                    }
                }
            }
            if matches!(state, PostState::Approved | PostState::Scheduled | PostState::Published) {
                let done: Vec<&str> = approvals.iter().map(|(s, _)| s.as_str()).collect();
                prop_assert_eq!(done, STEPS.to_vec());
                prop_assert!(approvals.iter().all(|(_, who)| who != "anna"));
            }
            if state == PostState::InReview {
                prop_assert!(approvals.len() < STEPS.len());
            }
        }
    }
}
