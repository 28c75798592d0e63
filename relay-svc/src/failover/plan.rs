//! The order in which one request tries candidates: the best rank first (priority tiers), by weight inside a
//! rank, a random usable key of the channel; after a key fails, another key of the same channel; after a
//! channel fails, the next rank (and only when no other channel is left, another key of a failed channel).
//! A key that failed is never tried again for the same request.

use std::time::Duration;

use rand::Rng;

use crate::channel::{Channel, ChannelId};

use super::cooldown::Pause;
use super::verdict::Scope;

/// The next attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Pick {
    /// Candidate index and index into its `keys`.
    Try(usize, usize),
    /// Every untried key is paused here; the soonest comes back after this long.
    CoolingDown(Duration),
    /// Nothing left to try.
    Exhausted,
}

#[derive(Debug, Default)]
pub struct Plan {
    /// (candidate index, key slot) tried so far. A candidate is a channel serving one model: a virtual model's
    /// real models on the same channel are different candidates.
    tried: Vec<(usize, i32)>,
    failed: Vec<usize>,
    /// Candidate index and rank of the last attempt.
    last: Option<(usize, u32)>,
    stay_on_channel: bool,
}

impl Plan {
    /// The next candidate and key. `skip` leaves candidates out; `paused` says whether a key is left alone
    /// (soft pauses yield when nothing else is left).
    pub fn next(
        &mut self,
        candidates: &[Channel],
        skip: impl Fn(&Channel) -> bool,
        paused: impl Fn(ChannelId, i32) -> Option<Pause>,
        rng: &mut impl Rng,
    ) -> Pick {
        // The common case, one channel with one key and nothing paused, without building any list.
        if let ([only], None) = (candidates, self.last)
            && only.keys.len() == 1
            && !skip(only)
            && paused(only.id, only.keys[0].slot).is_none()
        {
            return self.take(candidates, 0, 0);
        }
        for allow_soft in [false, true] {
            let usable = |i: usize| -> Vec<usize> {
                let c = &candidates[i];
                (0..c.keys.len())
                    .filter(|k| {
                        let slot = c.keys[*k].slot;
                        !self.tried.contains(&(i, slot)) && paused(c.id, slot).is_none_or(|p| allow_soft && !p.hard)
                    })
                    .collect()
            };
            if let (true, Some((i, _))) = (self.stay_on_channel, self.last) {
                let keys = usable(i);
                if !keys.is_empty() {
                    return self.take(candidates, i, keys[rng.random_range(0..keys.len())]);
                }
            }
            let allowed = |i: &usize| !skip(&candidates[*i]) && !usable(*i).is_empty();
            let mut eligible: Vec<usize> =
                (0..candidates.len()).filter(|i| !self.failed.contains(i)).filter(allowed).collect();
            if eligible.is_empty() {
                // No other candidate: a failed one's other keys are still a different key to try.
                eligible = (0..candidates.len()).filter(allowed).collect();
            }
            if eligible.is_empty() {
                continue;
            }
            let ranks = eligible.iter().map(|i| candidates[*i].rank);
            let rank = match self.last {
                None => ranks.min(),
                Some((_, last)) => ranks.clone().filter(|r| *r > last).min().or_else(|| ranks.min()),
            }
            .unwrap_or(0);
            let pool: Vec<usize> = eligible.into_iter().filter(|i| candidates[*i].rank == rank).collect();
            // Weight 0 still gets picked sometimes (Veloera treats weights as relative, not as an off switch).
            let total: u64 = pool.iter().map(|i| u64::from(candidates[*i].weight) + 1).sum();
            let mut roll = rng.random_range(0..total);
            let mut chosen = pool[0];
            for i in &pool {
                let w = u64::from(candidates[*i].weight) + 1;
                if roll < w {
                    chosen = *i;
                    break;
                }
                roll -= w;
            }
            let keys = usable(chosen);
            return self.take(candidates, chosen, keys[rng.random_range(0..keys.len())]);
        }
        let soonest = (0..candidates.len())
            .filter(|i| !skip(&candidates[*i]))
            .flat_map(|i| candidates[i].keys.iter().map(move |k| (i, k.slot)))
            .filter(|key| !self.tried.contains(key))
            .filter_map(|(i, slot)| paused(candidates[i].id, slot))
            .filter(|p| p.hard)
            .map(|p| p.left)
            .min();
        soonest.map_or(Pick::Exhausted, Pick::CoolingDown)
    }

    fn take(&mut self, candidates: &[Channel], i: usize, key: usize) -> Pick {
        self.tried.push((i, candidates[i].keys[key].slot));
        self.last = Some((i, candidates[i].rank));
        self.stay_on_channel = false;
        Pick::Try(i, key)
    }

    /// The last attempt failed with a fault of `scope` (`Request` faults end the request, so never come here).
    pub fn failed(&mut self, scope: Scope) {
        let Some((i, _)) = self.last else { return };
        match scope {
            Scope::Key => self.stay_on_channel = true,
            Scope::Channel | Scope::Request => self.failed.push(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::testing::{channel, openai_candidate};
    use veloera_proto::v1::{Candidate, ChannelKey};

    fn candidate(id: i64, rank: u32, weight: u32, keys: usize) -> Channel {
        channel(Candidate {
            channel_id: id,
            rank,
            weight,
            keys: (0..keys).map(|s| ChannelKey { slot: s as i32, key: format!("k{s}") }).collect(),
            ..openai_candidate()
        })
    }

    fn channel_of(p: Pick, c: &[Channel]) -> i64 {
        match p {
            Pick::Try(i, _) => c[i].id.get(),
            other => panic!("expected a pick, got {other:?}"),
        }
    }

    #[test]
    fn the_best_rank_goes_first_and_a_channel_failure_moves_to_the_next_rank() {
        let c = vec![candidate(1, 0, 0, 1), candidate(2, 0, 0, 1), candidate(3, 1, 0, 1)];
        let mut rng = rand::rng();
        for _ in 0..20 {
            let mut plan = Plan::default();
            let first = channel_of(plan.next(&c, |_| false, |_, _| None, &mut rng), &c);
            assert!(first == 1 || first == 2);
            plan.failed(Scope::Channel);
            assert_eq!(channel_of(plan.next(&c, |_| false, |_, _| None, &mut rng), &c), 3);
            plan.failed(Scope::Channel);
            let last = channel_of(plan.next(&c, |_| false, |_, _| None, &mut rng), &c);
            assert!(last != first && last != 3, "wraps to the untried channel of the first rank");
            plan.failed(Scope::Channel);
            assert_eq!(plan.next(&c, |_| false, |_, _| None, &mut rng), Pick::Exhausted);
        }
    }

    #[test]
    fn a_lone_channel_that_failed_is_retried_only_with_another_key() {
        let c = vec![candidate(1, 0, 0, 2)];
        let mut rng = rand::rng();
        let mut plan = Plan::default();
        let Pick::Try(0, first) = plan.next(&c, |_| false, |_, _| None, &mut rng) else { panic!() };
        plan.failed(Scope::Channel);
        assert_eq!(plan.next(&c, |_| false, |_, _| None, &mut rng), Pick::Try(0, 1 - first));
        plan.failed(Scope::Channel);
        assert_eq!(plan.next(&c, |_| false, |_, _| None, &mut rng), Pick::Exhausted);
    }

    #[test]
    fn a_key_failure_tries_the_channels_other_keys_first_and_never_the_same_key() {
        let c = vec![candidate(1, 0, 0, 3), candidate(2, 1, 0, 1)];
        let mut rng = rand::rng();
        let mut plan = Plan::default();
        let mut keys = Vec::new();
        for _ in 0..3 {
            match plan.next(&c, |_| false, |_, _| None, &mut rng) {
                Pick::Try(0, k) => keys.push(k),
                other => panic!("{other:?}"),
            }
            plan.failed(Scope::Key);
        }
        keys.sort();
        assert_eq!(keys, vec![0, 1, 2]);
        assert_eq!(channel_of(plan.next(&c, |_| false, |_, _| None, &mut rng), &c), 2);
    }

    #[test]
    fn paused_keys_are_skipped_and_reported_when_nothing_else_is_left() {
        let c = vec![candidate(1, 0, 0, 2)];
        let mut rng = rand::rng();
        let mut plan = Plan::default();
        let pause = |_: ChannelId, slot: i32| (slot == 0).then_some(Pause { left: Duration::from_secs(5), hard: true });
        assert_eq!(plan.next(&c, |_| false, pause, &mut rng), Pick::Try(0, 1));
        plan.failed(Scope::Key);
        assert_eq!(plan.next(&c, |_| false, pause, &mut rng), Pick::CoolingDown(Duration::from_secs(5)));
    }

    #[test]
    fn a_softly_paused_key_is_used_when_nothing_else_is_left() {
        let c = vec![candidate(1, 0, 0, 1)];
        let mut rng = rand::rng();
        let soft = |_: ChannelId, _: i32| Some(Pause { left: Duration::from_secs(60), hard: false });
        assert_eq!(Plan::default().next(&c, |_| false, soft, &mut rng), Pick::Try(0, 0));
    }

    #[test]
    fn weights_shape_the_first_pick() {
        let c = vec![candidate(1, 0, 99, 1), candidate(2, 0, 0, 1)];
        let mut rng = rand::rng();
        let firsts = (0..400)
            .filter(|_| channel_of(Plan::default().next(&c, |_| false, |_, _| None, &mut rng), &c) == 1)
            .count();
        assert!(firsts > 340, "heavy channel first only {firsts}/400 times");
    }
}
