//! The order in which one request tries candidates: the best rank first (priority tiers), by weight inside a
//! rank, a random usable key of the channel; after a key fails, another key of the same channel; after a
//! channel fails, the next rank. A key or channel that failed is never tried again for the same request.

use std::time::Duration;

use rand::Rng;
use veloera_proto::v1::Candidate;

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
    /// (channel id, key slot) tried so far.
    tried: Vec<(i64, i32)>,
    failed_channels: Vec<i64>,
    /// Candidate index and rank of the last attempt.
    last: Option<(usize, u32)>,
    stay_on_channel: bool,
}

impl Plan {
    /// The next candidate and key; `paused` says how long a key is still left alone.
    pub fn next(
        &mut self,
        candidates: &[Candidate],
        skip: impl Fn(&Candidate) -> bool,
        paused: impl Fn(i64, i32) -> Option<Duration>,
        rng: &mut impl Rng,
    ) -> Pick {
        let usable = |c: &Candidate| -> Vec<usize> {
            (0..c.keys.len())
                .filter(|k| {
                    let slot = c.keys[*k].slot;
                    !self.tried.contains(&(c.channel_id, slot)) && paused(c.channel_id, slot).is_none()
                })
                .collect()
        };
        if let (true, Some((i, _))) = (self.stay_on_channel, self.last) {
            let keys = usable(&candidates[i]);
            if !keys.is_empty() {
                return self.take(candidates, i, keys[rng.random_range(0..keys.len())]);
            }
        }
        let open = |c: &Candidate| !self.failed_channels.contains(&c.channel_id) && !skip(c);
        let eligible: Vec<usize> =
            (0..candidates.len()).filter(|i| open(&candidates[*i]) && !usable(&candidates[*i]).is_empty()).collect();
        if eligible.is_empty() {
            let soonest = candidates
                .iter()
                .filter(|c| open(c))
                .flat_map(|c| c.keys.iter().map(move |k| (c.channel_id, k.slot)))
                .filter(|key| !self.tried.contains(key))
                .filter_map(|(c, s)| paused(c, s))
                .min();
            return soonest.map_or(Pick::Exhausted, Pick::CoolingDown);
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
        let keys = usable(&candidates[chosen]);
        self.take(candidates, chosen, keys[rng.random_range(0..keys.len())])
    }

    fn take(&mut self, candidates: &[Candidate], i: usize, key: usize) -> Pick {
        let c = &candidates[i];
        self.tried.push((c.channel_id, c.keys[key].slot));
        self.last = Some((i, c.rank));
        self.stay_on_channel = false;
        Pick::Try(i, key)
    }

    /// The last attempt failed with a fault of `scope` (`Request` faults end the request, so never come here).
    pub fn failed(&mut self, candidates: &[Candidate], scope: Scope) {
        let Some((i, _)) = self.last else { return };
        match scope {
            Scope::Key => self.stay_on_channel = true,
            Scope::Channel | Scope::Request => self.failed_channels.push(candidates[i].channel_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use veloera_proto::v1::ChannelKey;

    fn candidate(id: i64, rank: u32, weight: u32, keys: usize) -> Candidate {
        Candidate {
            channel_id: id,
            rank,
            weight,
            keys: (0..keys).map(|s| ChannelKey { slot: s as i32, key: format!("k{s}") }).collect(),
            ..Default::default()
        }
    }

    fn channel_of(p: Pick, c: &[Candidate]) -> i64 {
        match p {
            Pick::Try(i, _) => c[i].channel_id,
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
            plan.failed(&c, Scope::Channel);
            assert_eq!(channel_of(plan.next(&c, |_| false, |_, _| None, &mut rng), &c), 3);
            plan.failed(&c, Scope::Channel);
            let last = channel_of(plan.next(&c, |_| false, |_, _| None, &mut rng), &c);
            assert!(last != first && last != 3, "wraps to the untried channel of the first rank");
            plan.failed(&c, Scope::Channel);
            assert_eq!(plan.next(&c, |_| false, |_, _| None, &mut rng), Pick::Exhausted);
        }
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
            plan.failed(&c, Scope::Key);
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
        let pause = |_: i64, slot: i32| (slot == 0).then_some(Duration::from_secs(5));
        assert_eq!(plan.next(&c, |_| false, pause, &mut rng), Pick::Try(0, 1));
        plan.failed(&c, Scope::Key);
        assert_eq!(plan.next(&c, |_| false, pause, &mut rng), Pick::CoolingDown(Duration::from_secs(5)));
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
