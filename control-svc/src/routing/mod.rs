//! Channel selection: an immutable snapshot of enabled channels, rebuilt on every channel write,
//! answering "which channels (and keys) may serve model M for group G, in what order".

pub mod channel_types;
pub mod proxy_secret;
pub mod settings;
pub mod virtual_models;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::db::channels::ChannelRow;
use crate::secrets::Cipher;
use virtual_models::VirtualModels;

/// A channel ready for routing, keys decrypted.
#[derive(Debug, Clone)]
pub struct RoutableChannel {
    pub id: i64,
    pub name: String,
    pub channel_type: i32,
    pub base_url: String,
    /// Every key, in slot order.
    pub keys: Vec<String>,
    /// Per slot: may the key be used (not disabled by hand or by health checks)?
    pub key_enabled: Vec<bool>,
    pub models: Vec<String>,
    pub groups: Vec<String>,
    pub model_mapping: HashMap<String, String>,
    pub priority: i64,
    pub weight: i64,
    /// May health checks disable this channel or its keys?
    pub auto_ban: bool,
    pub organization: String,
    /// Veloera's model prefix: the channel's models are also served as `<prefix><model>`; empty for none.
    pub model_prefix: String,
    pub settings: settings::Parsed,
}

impl RoutableChannel {
    /// The channel as stored, every key usable (health is applied by the snapshot).
    pub fn from_row(row: &ChannelRow, cipher: &Cipher) -> Result<Self, crate::error::ControlError> {
        let keys = channel_types::keys_of(row.channel_type as i32, &cipher.decrypt(&row.key_ciphertext)?);
        let default_base = channel_types::find(row.channel_type as i32).map(|t| t.default_base_url).unwrap_or("");
        let base_url = if row.base_url.trim().is_empty() { default_base.to_string() } else { row.base_url.clone() };
        Ok(RoutableChannel {
            id: row.id,
            name: row.name.clone(),
            channel_type: row.channel_type as i32,
            base_url: base_url.trim_end_matches('/').to_string(),
            key_enabled: vec![true; keys.len()],
            keys,
            models: split_list(&row.models),
            groups: split_list(&row.group_name),
            model_mapping: serde_json::from_str(&row.model_mapping).unwrap_or_default(),
            priority: row.priority,
            weight: row.weight,
            auto_ban: row.auto_ban != 0,
            organization: row.openai_organization.clone(),
            model_prefix: row.model_prefix.clone(),
            settings: settings::parse(&row.settings, row.channel_type as i32),
        })
    }

    /// The model name sent upstream for `model` (after the channel's model mapping).
    pub fn upstream_name(&self, model: &str) -> String {
        self.model_mapping.get(model).cloned().unwrap_or_else(|| model.to_string())
    }

    /// `(slot, key)` of the keys that may be used now.
    pub fn usable_keys(&self) -> impl Iterator<Item = (usize, &str)> {
        self.keys.iter().enumerate().filter(|(slot, _)| self.key_enabled[*slot]).map(|(slot, k)| (slot, k.as_str()))
    }

    fn serves(&self, model: &str) -> bool {
        self.models.iter().any(|m| m == model)
    }

    fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// The model behind `<prefix><model>` when this channel has a prefix and serves that model.
    fn unprefixed<'m>(&self, asked: &'m str) -> Option<&'m str> {
        if self.model_prefix.is_empty() {
            return None;
        }
        asked.strip_prefix(self.model_prefix.as_str()).filter(|base| self.serves(base))
    }
}

/// One eligible channel for a request: the model to send upstream, its place in the order of preference and,
/// when it differs from the asked name, the model it is billed and logged as.
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    pub channel: &'a RoutableChannel,
    pub upstream_model: String,
    /// Lower ranks are tried first; the relay picks by weight inside a rank.
    pub rank: u32,
    pub billed_model: Option<String>,
}

/// One model name as [`ChannelSnapshot::served_models`] lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedModel {
    /// The name prices are looked up by (the unprefixed model for a prefixed name).
    pub billed_as: String,
    pub groups: BTreeSet<String>,
}

/// All enabled channels with at least one usable key, and the virtual models, at one moment.
#[derive(Debug, Default)]
pub struct ChannelSnapshot {
    channels: Vec<RoutableChannel>,
    virtual_models: VirtualModels,
}

/// Splits a comma (or newline) separated list, trimming blanks.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', '\n']).map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// How a key is identified in the health table: its SHA-256, so the row follows the key when keys are reordered.
pub fn key_digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The reason recorded on a channel disabled because none of its keys may be used.
pub const ALL_KEYS_DISABLED_REASON: &str = "every key of the channel is disabled";

/// Per-key status from the health table: (channel id, key digest) → status (1 enabled, 2 or 3 disabled).
pub type KeyStatuses = HashMap<(i64, String), i64>;

impl ChannelSnapshot {
    /// Builds the snapshot from rows; disabled channels and undecryptable keys are left out (and logged).
    pub fn build(
        rows: &[ChannelRow],
        key_statuses: &KeyStatuses,
        virtual_models: VirtualModels,
        cipher: &Cipher,
    ) -> Self {
        let mut channels = Vec::new();
        for row in rows.iter().filter(|r| r.status == 1) {
            let mut channel = match RoutableChannel::from_row(row, cipher) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(channel = row.id, error = %e, "channel key cannot be decrypted; channel skipped");
                    continue;
                }
            };
            channel.key_enabled = channel
                .keys
                .iter()
                .map(|k| key_statuses.get(&(row.id, key_digest(k))).is_none_or(|s| *s == 1))
                .collect();
            if channel.key_enabled.contains(&true) {
                channels.push(channel);
            }
        }
        ChannelSnapshot { channels, virtual_models }
    }

    /// A snapshot of exactly `channels` (unit tests of what reads the snapshot).
    #[cfg(test)]
    pub fn of(channels: Vec<RoutableChannel>) -> Self {
        ChannelSnapshot { channels, virtual_models: VirtualModels::default() }
    }

    /// An enabled channel by id.
    pub fn channel(&self, id: i64) -> Option<&RoutableChannel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// `(channel id, key digest)` of every key of every enabled channel.
    pub fn all_keys(&self) -> impl Iterator<Item = (i64, String)> + '_ {
        self.channels.iter().flat_map(|c| c.keys.iter().map(move |k| (c.id, key_digest(k))))
    }

    /// Model names served to `group`, sorted and unique: each channel's models, their prefixed names, and the
    /// virtual models with at least one real model served.
    pub fn models_for_group(&self, group: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for c in self.channels.iter().filter(|c| c.in_group(group)) {
            for m in &c.models {
                names.insert(m.clone());
                if !c.model_prefix.is_empty() {
                    names.insert(format!("{}{m}", c.model_prefix));
                }
            }
        }
        let served: Vec<String> = self
            .virtual_models
            .iter()
            .filter(|(_, reals)| reals.iter().any(|r| names.contains(&r.model)))
            .map(|(name, _)| name.clone())
            .collect();
        names.extend(served);
        names
    }

    /// Enabled channels in the snapshot (those with at least one usable key).
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// Every model name the channels serve, prefixed names included, with the model it is billed as and the
    /// groups that may use it. Virtual models are left out: what they cost depends on the real model that answers.
    pub fn served_models(&self) -> BTreeMap<String, ServedModel> {
        let mut out: BTreeMap<String, ServedModel> = BTreeMap::new();
        for c in &self.channels {
            for m in &c.models {
                let mut names = vec![m.clone()];
                if !c.model_prefix.is_empty() {
                    names.push(format!("{}{m}", c.model_prefix));
                }
                for name in names {
                    let entry = out
                        .entry(name)
                        .or_insert_with(|| ServedModel { billed_as: m.clone(), groups: BTreeSet::new() });
                    entry.groups.extend(c.groups.iter().cloned());
                }
            }
        }
        out
    }

    /// Every channel that may serve `model` for `group`, ranked. In order of precedence:
    /// - a pinned channel is the only candidate (and need not be in the group);
    /// - `<prefix><model>` goes to the channels with that prefix (one rank: Veloera picks among them by weight);
    /// - a virtual model goes to its real models, priority by priority, each by its channels' priority tiers;
    /// - otherwise the group's channels serving the model, highest priority tier first.
    pub fn candidates(&self, group: &str, model: &str, pinned: Option<i64>) -> Vec<Choice<'_>> {
        if let Some(id) = pinned {
            return self
                .channels
                .iter()
                .filter(|c| c.id == id)
                .filter_map(|c| match c.unprefixed(model) {
                    Some(base) => Some(choice(c, base, 0, Some(base))),
                    None => c.serves(model).then(|| choice(c, model, 0, None)),
                })
                .collect();
        }
        let in_group = || self.channels.iter().filter(move |c| c.in_group(group));
        let prefixed: Vec<Choice<'_>> =
            in_group().filter_map(|c| c.unprefixed(model).map(|base| choice(c, base, 0, Some(base)))).collect();
        if !prefixed.is_empty() {
            return prefixed;
        }
        if let Some(tiers) = self.virtual_models.tiers(model) {
            let mut out = Vec::new();
            for reals in tiers {
                let served: Vec<(&RoutableChannel, &str)> = reals
                    .iter()
                    .flat_map(|real| in_group().filter(|c| c.serves(real)).map(move |c| (c, *real)))
                    .collect();
                let offset = out.iter().map(|c: &Choice<'_>| c.rank + 1).max().unwrap_or(0);
                out.extend(ranked(served, offset, true));
            }
            return out;
        }
        ranked(in_group().filter(|c| c.serves(model)).map(|c| (c, model)).collect(), 0, false)
    }
}

fn choice<'a>(c: &'a RoutableChannel, model: &str, rank: u32, billed: Option<&str>) -> Choice<'a> {
    Choice { channel: c, upstream_model: c.upstream_name(model), rank, billed_model: billed.map(str::to_string) }
}

/// Ranks `(channel, model)` pairs by channel priority tier (highest first), starting at `offset`.
fn ranked<'a>(served: Vec<(&'a RoutableChannel, &str)>, offset: u32, billed: bool) -> Vec<Choice<'a>> {
    let mut tiers: Vec<i64> = served.iter().map(|(c, _)| c.priority).collect::<BTreeSet<_>>().into_iter().collect();
    tiers.reverse();
    let mut out: Vec<Choice<'a>> = served
        .into_iter()
        .map(|(c, m)| {
            let tier = tiers.iter().position(|p| *p == c.priority).unwrap_or(0) as u32;
            choice(c, m, offset + tier, billed.then_some(m))
        })
        .collect();
    out.sort_by_key(|c| c.rank);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: i64, priority: i64, models: &[&str]) -> RoutableChannel {
        RoutableChannel {
            id,
            name: format!("c{id}"),
            channel_type: 1,
            base_url: "http://x".into(),
            keys: vec!["k1".into(), "k2".into()],
            key_enabled: vec![true, true],
            models: models.iter().map(|m| m.to_string()).collect(),
            groups: vec!["default".into()],
            model_mapping: HashMap::from([("alias".to_string(), "real".to_string())]),
            priority,
            weight: 1,
            auto_ban: true,
            organization: String::new(),
            model_prefix: String::new(),
            settings: Default::default(),
        }
    }

    fn snapshot(channels: Vec<RoutableChannel>) -> ChannelSnapshot {
        ChannelSnapshot { channels, virtual_models: VirtualModels::default() }
    }

    fn ranks(snap: &ChannelSnapshot, model: &str) -> Vec<(i64, u32)> {
        snap.candidates("default", model, None).iter().map(|c| (c.channel.id, c.rank)).collect()
    }

    #[test]
    fn served_models_bill_prefixed_names_as_their_model_and_merge_groups() {
        let mut prefixed = channel(1, 0, &["m"]);
        prefixed.model_prefix = "p/".into();
        let mut vip = channel(2, 0, &["m", "v"]);
        vip.groups = vec!["vip".into()];
        let served = snapshot(vec![prefixed, vip]).served_models();
        assert_eq!(served.keys().collect::<Vec<_>>(), ["m", "p/m", "v"]);
        assert_eq!(served["p/m"].billed_as, "m");
        assert_eq!(served["m"].groups.iter().collect::<Vec<_>>(), ["default", "vip"]);
        assert_eq!(served["p/m"].groups.iter().collect::<Vec<_>>(), ["default"]);
    }

    #[test]
    fn higher_priority_tiers_rank_first() {
        let snap = snapshot(vec![channel(1, 0, &["m"]), channel(2, 5, &["m"]), channel(3, 5, &["m"])]);
        assert_eq!(ranks(&snap, "m"), vec![(2, 0), (3, 0), (1, 1)]);
    }

    #[test]
    fn other_groups_and_models_are_not_candidates() {
        let snap = snapshot(vec![channel(1, 0, &["m"])]);
        assert!(snap.candidates("vip", "m", None).is_empty());
        assert!(snap.candidates("default", "other", None).is_empty());
    }

    #[test]
    fn model_mapping_renames_the_upstream_model() {
        let snap = snapshot(vec![channel(1, 0, &["alias"])]);
        assert_eq!(snap.candidates("default", "alias", None)[0].upstream_model, "real");
    }

    #[test]
    fn a_prefix_routes_to_its_channels_and_the_bare_name_keeps_working() {
        let mut prefixed = channel(1, 0, &["m"]);
        prefixed.model_prefix = "azure/".into();
        let snap = snapshot(vec![prefixed, channel(2, 9, &["m"])]);
        let via_prefix = snap.candidates("default", "azure/m", None);
        assert_eq!(via_prefix.len(), 1);
        assert_eq!((via_prefix[0].channel.id, via_prefix[0].upstream_model.as_str()), (1, "m"));
        assert_eq!(via_prefix[0].billed_model.as_deref(), Some("m"));
        assert_eq!(ranks(&snap, "m"), vec![(2, 0), (1, 1)]);
        let listed = snap.models_for_group("default");
        assert!(listed.contains("m") && listed.contains("azure/m"), "{listed:?}");
    }

    #[test]
    fn a_virtual_model_ranks_its_real_models_by_priority() {
        let mut snap = snapshot(vec![channel(1, 0, &["big"]), channel(2, 3, &["big"]), channel(3, 0, &["small"])]);
        snap.virtual_models = VirtualModels::parse(
            r#"{"auto": [{"model": "small", "priorities": 1}, {"model": "big", "priorities": 9}]}"#,
        )
        .unwrap();
        let c = snap.candidates("default", "auto", None);
        let got: Vec<(i64, u32, Option<&str>)> =
            c.iter().map(|c| (c.channel.id, c.rank, c.billed_model.as_deref())).collect();
        assert_eq!(got, vec![(2, 0, Some("big")), (1, 1, Some("big")), (3, 2, Some("small"))]);
        assert!(snap.models_for_group("default").contains("auto"));
    }

    #[test]
    fn a_pinned_channel_is_the_only_candidate() {
        let snap = snapshot(vec![channel(1, 0, &["m"]), channel(2, 5, &["m"])]);
        let pinned = snap.candidates("elsewhere", "m", Some(1));
        assert_eq!(pinned.iter().map(|c| c.channel.id).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn disabled_keys_are_not_usable() {
        let mut c = channel(1, 0, &["m"]);
        c.key_enabled = vec![false, true];
        assert_eq!(c.usable_keys().collect::<Vec<_>>(), vec![(1, "k2")]);
    }
}
