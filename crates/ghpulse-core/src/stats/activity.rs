//! The figures of SPEC section 3a — all repositories together, most active, more than N of a
//! type, counts by action, label KPIs — as pure functions of stored events and a clock, built
//! on `stats`'s window and figures. (The `action` filter and `by=action` are `figures::Selection`.)

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::config::load::Window;
use crate::github::event::EventMeta;
use crate::stats::figures::{self, PartialReason, RepoEvents, RepoStats, Selection};

/// The `repo` of the `combined` entry.
pub const COMBINED: &str = "all watched repositories";

/// Section 3's figures over the union of the windows W(R), de-duplicated by id; partial when
/// any repository's window is (catching up before a gap: a read is still owed).
pub fn combined(
    repos: &[RepoEvents<'_>],
    now: DateTime<Utc>,
    w: &Window,
    selection: &Selection<'_>,
) -> RepoStats {
    let mut union: Vec<EventMeta> = Vec::new();
    let mut partial = None;
    for r in repos {
        let win = figures::window_events(r.events, now, w);
        partial = match (partial, figures::partial_reason(r, win, now)) {
            (Some(PartialReason::CatchingUp), _) | (_, Some(PartialReason::CatchingUp)) => {
                Some(PartialReason::CatchingUp)
            }
            (a, b) => a.or(b),
        };
        union.extend_from_slice(win);
    }
    union.sort_by_key(|e| std::cmp::Reverse(e.order_key()));
    let mut seen = HashSet::new();
    union.retain(|e| seen.insert(e.id));
    figures::window_stats(COMBINED, &union, partial, selection)
}

/// Which events a count covers.
#[derive(Clone, Copy, Debug)]
pub enum Scope {
    /// The window W(R).
    Window(Window),
    /// Events created in the last `offset` (strictly after `now - offset`).
    Offset(TimeDelta),
}

fn in_scope(
    events: &[EventMeta],
    now: DateTime<Utc>,
    scope: Scope,
) -> impl Iterator<Item = &EventMeta> {
    let events = match scope {
        Scope::Window(w) => figures::window_events(events, now, &w),
        Scope::Offset(offset) => {
            let after = now - offset;
            // Newest first by created_at, so the events after the cut form a prefix.
            &events[..events.partition_point(|e| e.created_at > after)]
        }
    };
    events.iter()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoActivity {
    pub repo: String,
    pub events: u64,
}

/// "Most active": repositories ranked by their events created in the last `offset`, most
/// first, ties in config order (`repos` is in config order).
pub fn most_active(
    repos: &[RepoEvents<'_>],
    now: DateTime<Utc>,
    offset: TimeDelta,
) -> Vec<RepoActivity> {
    let mut ranked: Vec<RepoActivity> = repos
        .iter()
        .map(|r| RepoActivity {
            repo: r.repo.to_string(),
            events: in_scope(r.events, now, Scope::Offset(offset)).count() as u64,
        })
        .collect();
    // Stable: equal counts keep config order.
    ranked.sort_by_key(|r| std::cmp::Reverse(r.events));
    ranked
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoTypeCount {
    pub repo: String,
    pub count: u64,
}

/// "More than N of a type": the repositories, in config order, with more than `more_than`
/// events of `event_type` in `scope`, with that count.
pub fn more_than(
    repos: &[RepoEvents<'_>],
    now: DateTime<Utc>,
    scope: Scope,
    event_type: &str,
    more_than: u64,
) -> Vec<RepoTypeCount> {
    repos
        .iter()
        .map(|r| RepoTypeCount {
            repo: r.repo.to_string(),
            count: in_scope(r.events, now, scope)
                .filter(|e| e.event_type == event_type)
                .count() as u64,
        })
        .filter(|c| c.count > more_than)
        .collect()
}

/// Events created in the last `offset` by type, only those with `action` when given.
pub fn counts_by_type(
    events: &[EventMeta],
    now: DateTime<Utc>,
    offset: TimeDelta,
    action: Option<&str>,
) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for e in in_scope(events, now, Scope::Offset(offset)) {
        if action.is_none_or(|a| e.action.as_deref() == Some(a)) {
            *counts.entry(e.event_type.to_string()).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::figures::Gap;
    use proptest::prelude::*;

    const NOW: &str = "2026-11-22T12:00:00Z";

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn ev(id: u64, ty: &str, action: Option<&str>, at: &str) -> EventMeta {
        EventMeta {
            id,
            event_type: ty.into(),
            created_at: t(at),
            actor: "someone".into(),
            action: action.map(crate::github::event::Sym::from),
        }
    }

    fn sorted(mut v: Vec<EventMeta>) -> Vec<EventMeta> {
        v.sort_by_key(|e| std::cmp::Reverse(e.order_key()));
        v
    }

    fn repo<'a>(name: &'a str, events: &'a [EventMeta]) -> RepoEvents<'a> {
        RepoEvents {
            repo: name,
            events,
            gaps: &[],
            catching_up: false,
        }
    }

    #[test]
    fn combined_merges_windows_into_one_timeline_without_duplicates() {
        let a = sorted(vec![
            ev(1, "PushEvent", None, "2026-11-22T10:00:00Z"),
            ev(3, "PushEvent", None, "2026-11-22T10:00:30Z"),
            ev(9, "WatchEvent", Some("started"), "2026-11-10T00:00:00Z"), // too old
        ]);
        let b = sorted(vec![
            ev(2, "PushEvent", None, "2026-11-22T10:00:10Z"),
            ev(3, "PushEvent", None, "2026-11-22T10:00:30Z"), // the same event twice
        ]);
        let c = combined(
            &[repo("o/a", &a), repo("o/b", &b)],
            t(NOW),
            &Window::default(),
            &Selection::default(),
        );
        assert_eq!(c.repo, COMBINED);
        assert_eq!(c.events_in_window, 3);
        assert_eq!(c.window_start, Some(t("2026-11-22T10:00:00Z")));
        assert_eq!(c.window_end, Some(t("2026-11-22T10:00:30Z")));
        let push = &c.event_types[0];
        // Times 0, 10, 30 s: gaps 10 and 20.
        assert_eq!(
            (
                push.count,
                push.avg_seconds_between,
                push.median_seconds_between
            ),
            (3, Some(15.0), Some(15.0))
        );
        assert!(!c.partial);
    }

    #[test]
    fn combined_uses_each_repositorys_own_window_cut() {
        // max_events = 1: each repository keeps only its newest event.
        let a = sorted(vec![
            ev(1, "X", None, "2026-11-22T10:00:00Z"),
            ev(2, "X", None, "2026-11-22T11:00:00Z"),
        ]);
        let b = sorted(vec![ev(3, "X", None, "2026-11-22T09:00:00Z")]);
        let w = Window {
            max_events: 1,
            ..Window::default()
        };
        let c = combined(
            &[repo("o/a", &a), repo("o/b", &b)],
            t(NOW),
            &w,
            &Selection::default(),
        );
        assert_eq!(c.events_in_window, 2);
        assert_eq!(c.event_types[0].avg_seconds_between, Some(7200.0));
    }

    #[test]
    fn combined_is_partial_when_any_window_is() {
        let a = sorted(vec![ev(1, "X", None, "2026-11-22T10:00:00Z")]);
        let gap = Gap {
            detected_at: t("2026-11-22T11:00:00Z"),
            from: t("2026-11-22T09:00:00Z"),
            to: t("2026-11-22T10:30:00Z"),
            estimated_missing: 5,
        };
        let gaps = [gap];
        let with_gap = RepoEvents {
            gaps: &gaps,
            ..repo("o/a", &a)
        };
        let owed = RepoEvents {
            catching_up: true,
            ..repo("o/b", &[])
        };
        for (b, reason) in [
            (repo("o/b", &[]), PartialReason::Gap),
            (owed, PartialReason::CatchingUp),
        ] {
            let c = combined(
                &[with_gap, b],
                t(NOW),
                &Window::default(),
                &Selection::default(),
            );
            assert_eq!(c.partial_reason, Some(reason));
        }
    }

    #[test]
    fn most_active_ranks_by_events_after_the_offset_ties_in_config_order() {
        let a = sorted(vec![
            ev(1, "X", None, "2026-11-22T11:50:00Z"),
            ev(2, "X", None, "2026-11-22T11:00:00Z"), // exactly 60 min: not after the cut
        ]);
        let b = sorted(vec![
            ev(3, "X", None, "2026-11-22T11:59:00Z"),
            ev(4, "Y", None, "2026-11-22T11:30:00Z"),
        ]);
        let c = sorted(vec![ev(5, "X", None, "2026-11-22T11:01:00Z")]);
        let ranked = most_active(
            &[repo("o/a", &a), repo("o/b", &b), repo("o/c", &c)],
            t(NOW),
            TimeDelta::minutes(60),
        );
        let got: Vec<_> = ranked.iter().map(|r| (r.repo.as_str(), r.events)).collect();
        assert_eq!(got, [("o/b", 2), ("o/a", 1), ("o/c", 1)]);
    }

    #[test]
    fn more_than_n_counts_the_window_or_an_offset() {
        let a = sorted(vec![
            ev(1, "PushEvent", None, "2026-11-22T11:50:00Z"),
            ev(2, "PushEvent", None, "2026-11-21T11:00:00Z"),
            ev(3, "PushEvent", None, "2026-11-01T11:00:00Z"), // outside the 7-day window
        ]);
        let b = sorted(vec![ev(4, "PushEvent", None, "2026-11-22T11:59:00Z")]);
        let repos = [repo("o/a", &a), repo("o/b", &b)];
        let window = more_than(
            &repos,
            t(NOW),
            Scope::Window(Window::default()),
            "PushEvent",
            1,
        );
        assert_eq!(
            window,
            [RepoTypeCount {
                repo: "o/a".into(),
                count: 2
            }]
        );
        let hour = more_than(
            &repos,
            t(NOW),
            Scope::Offset(TimeDelta::hours(1)),
            "PushEvent",
            0,
        );
        let got: Vec<_> = hour.iter().map(|r| (r.repo.as_str(), r.count)).collect();
        assert_eq!(got, [("o/a", 1), ("o/b", 1)]);
        assert!(more_than(&repos, t(NOW), Scope::Window(Window::default()), "Nope", 0).is_empty());
    }

    #[test]
    fn counts_by_type_filter_by_action() {
        let e = sorted(vec![
            ev(1, "IssuesEvent", Some("opened"), "2026-11-22T11:50:00Z"),
            ev(2, "IssuesEvent", Some("closed"), "2026-11-22T11:40:00Z"),
            ev(3, "PushEvent", None, "2026-11-22T11:30:00Z"),
            ev(4, "IssuesEvent", Some("opened"), "2026-11-22T09:00:00Z"),
        ]);
        let hour = TimeDelta::hours(1);
        let all = counts_by_type(&e, t(NOW), hour, None);
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            [("IssuesEvent".to_string(), 2), ("PushEvent".to_string(), 1)]
        );
        let opened = counts_by_type(&e, t(NOW), hour, Some("opened"));
        assert_eq!(
            opened.into_iter().collect::<Vec<_>>(),
            [("IssuesEvent".to_string(), 1)]
        );
    }

    fn arb_events() -> impl Strategy<Value = Vec<EventMeta>> {
        let types = prop::sample::select(vec!["PushEvent", "IssuesEvent", "WatchEvent"]);
        let actions = prop::sample::select(vec!["opened", "closed", "started"]);
        prop::collection::vec((types, actions, 0i64..20 * 24 * 3600), 0..80).prop_map(|v| {
            let now = t(NOW);
            sorted(
                v.into_iter()
                    .enumerate()
                    .map(|(i, (ty, action, age))| EventMeta {
                        id: i as u64 + 1,
                        event_type: ty.into(),
                        created_at: now - TimeDelta::seconds(age),
                        actor: Default::default(),
                        action: Some(action.into()),
                    })
                    .collect(),
            )
        })
    }

    proptest! {
        #[test]
        fn combined_of_one_repository_is_its_own_figures(events in arb_events(), max_events in 1usize..100) {
            let w = Window { max_events, ..Window::default() };
            let c = combined(&[repo("o/r", &events)], t(NOW), &w, &Selection::default());
            let own = figures::repo_stats(&repo("o/r", &events), t(NOW), &w, None);
            prop_assert_eq!(RepoStats { repo: "o/r".into(), ..c }, own);
        }

        #[test]
        fn combined_of_a_repository_twice_is_its_own_figures(events in arb_events()) {
            let w = Window::default();
            let c = combined(&[repo("o/r", &events), repo("o/s", &events)], t(NOW), &w, &Selection::default());
            let own = figures::repo_stats(&repo("o/r", &events), t(NOW), &w, None);
            prop_assert_eq!(RepoStats { repo: "o/r".into(), ..c }, own);
        }

        #[test]
        fn action_counts_sum_to_the_type_count(events in arb_events()) {
            let w = Window::default();
            let all = figures::repo_stats(&repo("o/r", &events), t(NOW), &w, None);
            let by = figures::selected_repo_stats(&repo("o/r", &events), t(NOW), &w,
                &Selection { by_action: true, ..Selection::default() });
            for (plain, with) in all.event_types.iter().zip(&by.event_types) {
                let actions = with.actions.as_ref().unwrap();
                prop_assert_eq!(actions.iter().map(|a| a.count).sum::<u64>(), plain.count);
                for a in actions {
                    let filtered = figures::selected_repo_stats(&repo("o/r", &events), t(NOW), &w,
                        &Selection { event_type: Some(&plain.event_type), action: a.action.as_deref(), by_action: false });
                    prop_assert_eq!(filtered.events_in_window, all.events_in_window);
                    let f = &filtered.event_types[0];
                    prop_assert_eq!((f.count, f.avg_seconds_between, f.median_seconds_between, f.last_event_at),
                        (a.count, a.avg_seconds_between, a.median_seconds_between, a.last_event_at));
                }
            }
        }

        #[test]
        fn most_active_counts_match_the_per_type_counts(events in arb_events(), minutes in 1i64..30 * 24 * 60) {
            let offset = TimeDelta::minutes(minutes);
            let ranked = most_active(&[repo("o/r", &events)], t(NOW), offset);
            let by_type = counts_by_type(&events, t(NOW), offset, None);
            prop_assert_eq!(ranked[0].events, by_type.values().sum::<u64>());
            let push = more_than(&[repo("o/r", &events)], t(NOW), Scope::Offset(offset), "PushEvent", 0);
            prop_assert_eq!(push.first().map(|p| p.count), by_type.get("PushEvent").copied());
        }
    }
}
