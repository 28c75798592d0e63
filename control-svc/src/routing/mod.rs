//! Channel selection: an immutable snapshot of enabled channels, rebuilt on every channel write,
//! answering "which channels (and keys) may serve model M for group G, in what order".

pub mod channel_types;
pub mod settings;

use std::collections::{BTreeSet, HashMap};

use rand::Rng;

use crate::db::channels::ChannelRow;
use crate::secrets::Cipher;

/// A channel ready for routing, keys decrypted.
#[derive(Debug, Clone)]
pub struct RoutableChannel {
    pub id: i64,
    pub name: String,
    pub channel_type: i32,
    pub base_url: String,
    pub keys: Vec<String>,
    pub models: Vec<String>,
    pub groups: Vec<String>,
    pub model_mapping: HashMap<String, String>,
    pub priority: i64,
    pub weight: i64,
    pub organization: String,
    pub settings: settings::Parsed,
}

/// One routing choice: a channel, the key slot to use, and the model to send upstream.
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    pub channel: &'a RoutableChannel,
    pub key_slot: usize,
    pub upstream_model: String,
}

/// All enabled channels at one moment.
#[derive(Debug, Default)]
pub struct ChannelSnapshot {
    channels: Vec<RoutableChannel>,
}

/// Splits a comma (or newline) separated list, trimming blanks.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n']).map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

impl ChannelSnapshot {
    /// Builds the snapshot from rows; disabled channels and undecryptable keys are left out (and logged).
    pub fn build(rows: &[ChannelRow], cipher: &Cipher) -> Self {
        let mut channels = Vec::new();
        for row in rows.iter().filter(|r| r.status == 1) {
            let keys = match cipher.decrypt(&row.key_ciphertext) {
                Ok(k) => channel_types::keys_of(row.channel_type as i32, &k),
                Err(e) => {
                    tracing::error!(channel = row.id, error = %e, "channel key cannot be decrypted; channel skipped");
                    continue;
                }
            };
            let default_base = channel_types::find(row.channel_type as i32).map(|t| t.default_base_url).unwrap_or("");
            let base_url = if row.base_url.trim().is_empty() { default_base.to_string() } else { row.base_url.clone() };
            channels.push(RoutableChannel {
                id: row.id,
                name: row.name.clone(),
                channel_type: row.channel_type as i32,
                base_url: base_url.trim_end_matches('/').to_string(),
                keys,
                models: split_list(&row.models),
                groups: split_list(&row.group_name),
                model_mapping: serde_json::from_str(&row.model_mapping).unwrap_or_default(),
                priority: row.priority,
                weight: row.weight,
                organization: row.openai_organization.clone(),
                settings: settings::parse(&row.settings, row.channel_type as i32),
            });
        }
        ChannelSnapshot { channels }
    }

    /// Model names served to `group`, sorted and unique.
    pub fn models_for_group(&self, group: &str) -> BTreeSet<String> {
        self.channels
            .iter()
            .filter(|c| c.groups.iter().any(|g| g == group))
            .flat_map(|c| c.models.iter().cloned())
            .collect()
    }

    /// Candidates for `model` in `group`: highest priority tier first, weighted-random order inside a tier,
    /// one random key per channel. A pinned channel is the only candidate (and need not be in the group).
    pub fn candidates(&self, group: &str, model: &str, pinned: Option<i64>) -> Vec<Choice<'_>> {
        let mut rng = rand::rng();
        let eligible: Vec<&RoutableChannel> = match pinned {
            Some(id) => self.channels.iter().filter(|c| c.id == id && c.models.iter().any(|m| m == model)).collect(),
            None => self
                .channels
                .iter()
                .filter(|c| c.groups.iter().any(|g| g == group) && c.models.iter().any(|m| m == model))
                .collect(),
        };
        let mut tiers: Vec<i64> = eligible.iter().map(|c| c.priority).collect::<BTreeSet<_>>().into_iter().collect();
        tiers.reverse();
        let mut ordered = Vec::with_capacity(eligible.len());
        for tier in tiers {
            let mut pool: Vec<&RoutableChannel> = eligible.iter().copied().filter(|c| c.priority == tier).collect();
            while !pool.is_empty() {
                // Weight 0 still gets picked sometimes (Veloera treats weights as relative, not as an off switch).
                let total: i64 = pool.iter().map(|c| c.weight.max(0) + 1).sum();
                let mut roll = rng.random_range(0..total);
                let idx = pool
                    .iter()
                    .position(|c| {
                        let w = c.weight.max(0) + 1;
                        if roll < w {
                            true
                        } else {
                            roll -= w;
                            false
                        }
                    })
                    .unwrap_or(0);
                ordered.push(pool.remove(idx));
            }
        }
        ordered
            .into_iter()
            .filter(|c| !c.keys.is_empty())
            .map(|c| Choice {
                channel: c,
                key_slot: rng.random_range(0..c.keys.len()),
                upstream_model: c.model_mapping.get(model).cloned().unwrap_or_else(|| model.to_string()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: i64, priority: i64, weight: i64, models: &[&str]) -> RoutableChannel {
        RoutableChannel {
            id,
            name: format!("c{id}"),
            channel_type: 1,
            base_url: "http://x".into(),
            keys: vec!["k1".into(), "k2".into()],
            models: models.iter().map(|m| m.to_string()).collect(),
            groups: vec!["default".into()],
            model_mapping: HashMap::from([("alias".to_string(), "real".to_string())]),
            priority,
            weight,
            organization: String::new(),
            settings: Default::default(),
        }
    }

    #[test]
    fn higher_priority_tier_comes_first() {
        let snap = ChannelSnapshot { channels: vec![channel(1, 0, 10, &["m"]), channel(2, 5, 1, &["m"])] };
        for _ in 0..20 {
            let ids: Vec<i64> = snap.candidates("default", "m", None).iter().map(|c| c.channel.id).collect();
            assert_eq!(ids, vec![2, 1]);
        }
    }

    #[test]
    fn other_groups_and_models_are_not_candidates() {
        let snap = ChannelSnapshot { channels: vec![channel(1, 0, 0, &["m"])] };
        assert!(snap.candidates("vip", "m", None).is_empty());
        assert!(snap.candidates("default", "other", None).is_empty());
    }

    #[test]
    fn model_mapping_renames_the_upstream_model() {
        let snap = ChannelSnapshot { channels: vec![channel(1, 0, 0, &["alias"])] };
        assert_eq!(snap.candidates("default", "alias", None)[0].upstream_model, "real");
    }

    #[test]
    fn weights_shape_the_first_pick() {
        let snap = ChannelSnapshot { channels: vec![channel(1, 0, 99, &["m"]), channel(2, 0, 0, &["m"])] };
        let firsts = (0..400).filter(|_| snap.candidates("default", "m", None)[0].channel.id == 1).count();
        assert!(firsts > 340, "heavy channel first only {firsts}/400 times");
    }
}
