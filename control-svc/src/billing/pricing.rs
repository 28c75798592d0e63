//! Prices in Veloera's units: 1 ratio unit = $0.002 per 1K tokens, `QuotaPerUnit` quota = $1.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Default `QuotaPerUnit`: 500,000 quota is one US dollar.
pub const DEFAULT_QUOTA_PER_UNIT: i64 = 500_000;

/// Built-in input ratios for common models (editable through the `ModelRatio` option).
const DEFAULT_MODEL_RATIOS: &[(&str, f64)] = &[
    ("gpt-3.5-turbo", 0.25),
    ("gpt-4", 15.0),
    ("gpt-4-turbo", 5.0),
    ("gpt-4o", 1.25),
    ("gpt-4o-mini", 0.075),
    ("gpt-4.1", 1.0),
    ("gpt-4.1-mini", 0.2),
    ("gpt-4.1-nano", 0.05),
    ("o1", 7.5),
    ("o1-mini", 0.55),
    ("o3", 1.0),
    ("o3-mini", 0.55),
    ("o4-mini", 0.55),
    ("text-embedding-3-small", 0.01),
    ("text-embedding-3-large", 0.065),
    ("text-embedding-ada-002", 0.05),
    ("whisper-1", 15.0),
    ("tts-1", 7.5),
    ("tts-1-hd", 15.0),
    ("gpt-4o-mini-transcribe", 0.625),
    ("gpt-4o-transcribe", 1.25),
    ("omni-moderation-latest", 0.0),
    ("jina-reranker-v2-base-multilingual", 0.01),
    ("jina-embeddings-v3", 0.01),
    ("text-moderation-latest", 0.0),
    ("claude-3-5-haiku-20241022", 0.4),
    ("claude-3-5-sonnet-20241022", 1.5),
    ("claude-3-7-sonnet-20250219", 1.5),
    ("claude-sonnet-4-20250514", 1.5),
    ("claude-opus-4-20250514", 7.5),
    ("claude-opus-4-1", 7.5),
    ("claude-opus-4-1-20250805", 7.5),
    ("claude-sonnet-4-5", 1.5),
    ("claude-sonnet-4-5-20250929", 1.5),
    ("claude-haiku-4-5", 0.5),
    ("claude-haiku-4-5-20251001", 0.5),
    ("claude-opus-4-5", 2.5),
    ("gemini-1.5-flash", 0.0375),
    ("gemini-1.5-pro", 0.625),
    ("gemini-2.0-flash", 0.05),
    ("gemini-2.5-flash", 0.15),
    ("gemini-2.5-pro", 0.625),
    ("deepseek-chat", 0.135),
    ("deepseek-reasoner", 0.275),
];

/// Output multipliers by model-name prefix; longest prefix wins, 1.0 when none matches.
const DEFAULT_COMPLETION_RATIOS: &[(&str, f64)] = &[
    ("gpt-3.5", 3.0),
    ("gpt-4", 2.0),
    ("gpt-4-turbo", 3.0),
    ("gpt-4o", 4.0),
    ("gpt-4.1", 4.0),
    ("o1", 4.0),
    ("o3", 4.0),
    ("o4", 4.0),
    ("claude", 5.0),
    ("gemini", 4.0),
    ("deepseek", 4.0),
];

/// What one model costs for one group: the contract's `Pricing`, so relay and control share one formula.
pub type ModelPricing = veloera_proto::v1::Pricing;

/// Final charge in quota units (see [`veloera_proto::rules::quota_for`]).
pub fn quota_for(p: &ModelPricing, prompt: i64, completion: i64, cached: i64, written: i64) -> i64 {
    veloera_proto::rules::quota_for(p, prompt, completion, cached, written)
}

/// Multiplier on prompt-cache writes when `CreateCacheRatio` names none: Anthropic bills a five-minute cache
/// write at 1.25× the input price (Veloera's and new-api's default for Claude); other vendors report no writes.
fn default_cache_creation_ratio(model: &str) -> f64 {
    if model.starts_with("claude") { 1.25 } else { 1.0 }
}

/// Veloera v0.5's fallback pricing for models without a price (`fallback_pricing_enabled`): either a fixed
/// price per call (`fallback_single_price`, USD) or ratios (`fallback_input_ratio` with
/// `fallback_completion_ratio`), never both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FallbackPricing {
    PerCall(f64),
    Ratios { input: f64, completion: f64 },
}

impl FallbackPricing {
    /// Reads the four options; `None` when disabled. Both modes at once, or neither, or a negative or
    /// unreadable number, is an error naming the option.
    fn from_options(options: &HashMap<String, String>) -> Result<Option<Self>, String> {
        let get = |key: &str| options.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        if get("fallback_pricing_enabled") != Some("true") {
            return Ok(None);
        }
        let number = |key: &str| -> Result<Option<f64>, String> {
            match get(key) {
                None => Ok(None),
                Some(raw) => match raw.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v).filter(|v| *v > 0.0)),
                    _ => Err(format!("option {key}: {raw:?} is not a number ≥ 0")),
                },
            }
        };
        let single = number("fallback_single_price")?;
        let input = number("fallback_input_ratio")?;
        let completion = number("fallback_completion_ratio")?;
        match (single, input) {
            (Some(_), Some(_)) => Err("fallback pricing: set either fallback_single_price or fallback_input_ratio \
                                       (with fallback_completion_ratio), not both"
                .into()),
            (Some(price), None) if completion.is_none() => Ok(Some(FallbackPricing::PerCall(price))),
            (Some(_), None) => Err("fallback pricing: fallback_completion_ratio belongs to the ratio mode, \
                                    not to fallback_single_price"
                .into()),
            (None, Some(input)) => Ok(Some(FallbackPricing::Ratios { input, completion: completion.unwrap_or(1.0) })),
            (None, None) => Err("fallback_pricing_enabled is true but neither fallback_single_price nor \
                                 fallback_input_ratio is set"
                .into()),
        }
    }
}

/// Veloera's model ratio for a model without a price, in self-use mode or for a user who accepts unset models.
pub const UNSET_MODEL_RATIO: f64 = 37.5;

/// The whole price configuration, built from defaults overlaid with the options table.
#[derive(Debug, Clone)]
pub struct PriceTable {
    model_ratio: HashMap<String, f64>,
    completion_ratio: HashMap<String, f64>,
    cache_ratio: HashMap<String, f64>,
    cache_creation_ratio: HashMap<String, f64>,
    model_price: HashMap<String, f64>,
    group_ratio: HashMap<String, f64>,
    /// `UserUsableGroups`: the groups users may pick for their tokens, with a description each.
    usable_groups: BTreeMap<String, String>,
    quota_per_unit: i64,
    /// `SelfUseModeEnabled`: unpriced models cost ratio 37.5 instead of being refused.
    self_use_mode: bool,
    /// Fallback pricing for unpriced models; wins over self-use mode's ratio.
    fallback: Option<FallbackPricing>,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable {
            model_ratio: DEFAULT_MODEL_RATIOS.iter().map(|(m, r)| (m.to_string(), *r)).collect(),
            completion_ratio: HashMap::new(),
            cache_ratio: HashMap::new(),
            cache_creation_ratio: HashMap::new(),
            model_price: DEFAULT_MODEL_PRICES.iter().map(|(m, p)| (m.to_string(), *p)).collect(),
            group_ratio: [("default", 1.0), ("vip", 1.0), ("svip", 1.0)]
                .iter()
                .map(|(g, r)| (g.to_string(), *r))
                .collect(),
            usable_groups: [("default", "默认分组"), ("vip", "vip分组")]
                .iter()
                .map(|(g, d)| (g.to_string(), d.to_string()))
                .collect(),
            quota_per_unit: DEFAULT_QUOTA_PER_UNIT,
            self_use_mode: false,
            fallback: None,
        }
    }
}

impl PriceTable {
    /// Overlays Veloera's option keys (`ModelRatio`, `CompletionRatio`, `CacheRatio`, `CreateCacheRatio`,
    /// `ModelPrice`, `GroupRatio` as JSON maps; `QuotaPerUnit`; `SelfUseModeEnabled`; the `fallback_*` keys of
    /// [`FallbackPricing`]). A malformed option is reported, not ignored.
    pub fn from_options(options: &HashMap<String, String>) -> Result<Self, String> {
        let mut t = PriceTable::default();
        let map = |key: &str| -> Result<Option<HashMap<String, f64>>, String> {
            match options.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(raw) => serde_json::from_str(raw).map(Some).map_err(|e| format!("option {key}: {e}")),
            }
        };
        if let Some(m) = map("ModelRatio")? {
            t.model_ratio = m;
        }
        if let Some(m) = map("CompletionRatio")? {
            t.completion_ratio = m;
        }
        if let Some(m) = map("CacheRatio")? {
            t.cache_ratio = m;
        }
        if let Some(m) = map("CreateCacheRatio")? {
            t.cache_creation_ratio = m;
        }
        if let Some(m) = map("ModelPrice")? {
            t.model_price = m;
        }
        if let Some(m) = map("GroupRatio")? {
            if let Some((g, r)) = m.iter().find(|(_, r)| !r.is_finite() || **r < 0.0) {
                return Err(format!("option GroupRatio: the ratio of group {g:?} ({r}) must be a number ≥ 0"));
            }
            t.group_ratio = m;
        }
        if let Some(raw) = options.get("UserUsableGroups").map(|s| s.trim()).filter(|s| !s.is_empty()) {
            t.usable_groups = serde_json::from_str(raw).map_err(|e| format!("option UserUsableGroups: {e}"))?;
        }
        if let Some(q) = options.get("QuotaPerUnit") {
            let q: f64 = q.trim().parse().map_err(|_| format!("option QuotaPerUnit: {q:?} is not a number"))?;
            t.quota_per_unit = q.round() as i64;
        }
        t.self_use_mode = crate::settings::snapshot::flag(options, "SelfUseModeEnabled", t.self_use_mode);
        t.fallback = FallbackPricing::from_options(options)?;
        Ok(t)
    }

    pub fn quota_per_unit(&self) -> i64 {
        self.quota_per_unit
    }

    /// The value in force of a price option, as the JSON (or number) `/api/option/` shows: for an unset option
    /// that is the built-in default. The per-model maps whose missing entries fall back to a rule
    /// (`CompletionRatio`, `CacheRatio`, `CreateCacheRatio`) list the value every priced model gets. `None` for
    /// keys that are not price options.
    pub fn option_value(&self, key: &str) -> Option<String> {
        let per_model = |value: &dyn Fn(&ModelPricing) -> f64| -> BTreeMap<&str, f64> {
            self.priced_models().into_iter().filter_map(|m| Some((m, value(&self.lookup(m, "default")?)))).collect()
        };
        let json = match key {
            "ModelRatio" => serde_json::to_string(&sorted(&self.model_ratio)),
            "ModelPrice" => serde_json::to_string(&sorted(&self.model_price)),
            "GroupRatio" => serde_json::to_string(&sorted(&self.group_ratio)),
            "UserUsableGroups" => serde_json::to_string(&self.usable_groups),
            "CompletionRatio" => serde_json::to_string(&per_model(&|p| p.completion_ratio)),
            "CacheRatio" => serde_json::to_string(&per_model(&|p| p.cache_ratio)),
            "CreateCacheRatio" => serde_json::to_string(&per_model(&|p| p.cache_creation_ratio)),
            "QuotaPerUnit" => return Some(self.quota_per_unit.to_string()),
            _ => return None,
        };
        json.ok()
    }

    /// Every model with a ratio or a per-call price, sorted and unique.
    pub fn priced_models(&self) -> BTreeSet<&str> {
        self.model_ratio.keys().chain(self.model_price.keys()).map(String::as_str).collect()
    }

    /// The multiplier of `group`, if the group exists.
    pub fn group_ratio(&self, group: &str) -> Option<f64> {
        self.group_ratio.get(group).copied()
    }

    /// Whether `group` is a known group (has a ratio).
    pub fn has_group(&self, group: &str) -> bool {
        self.group_ratio.contains_key(group)
    }

    /// Every known group (the keys of `GroupRatio`), sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.group_ratio.keys().cloned().collect();
        names.sort();
        names
    }

    /// The groups a user of `user_group` may pick for a token, with ratio and description: those of
    /// `UserUsableGroups` plus the user's own group (as Veloera), each only while it has a ratio in `GroupRatio`
    /// (a group without one is retired).
    pub fn usable_groups(&self, user_group: &str) -> BTreeMap<String, UsableGroup> {
        let own = (!user_group.is_empty() && !self.usable_groups.contains_key(user_group))
            .then(|| (user_group.to_string(), "用户分组".to_string()));
        self.usable_groups
            .iter()
            .map(|(g, d)| (g.clone(), d.clone()))
            .chain(own)
            .filter_map(|(group, desc)| {
                let ratio = *self.group_ratio.get(&group)?;
                Some((group, UsableGroup { ratio, desc }))
            })
            .collect()
    }

    /// Why a user of `user_group` may not give a token `group` (empty: the user's own group), or `None` when it
    /// may.
    pub fn refuse_token_group(&self, user_group: &str, group: &str) -> Option<String> {
        if group.is_empty() || group == user_group && self.has_group(group) {
            return None;
        }
        if !self.has_group(group) {
            return Some(format!("group {group:?} does not exist or has been retired (it has no GroupRatio)"));
        }
        if !self.usable_groups.contains_key(group) {
            return Some(format!(
                "group {group:?} is not available to you; usable groups: {}",
                self.usable_groups(user_group).keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        None
    }

    /// The pricing of `model` for `group`, or `None` when the model has no price (Veloera refuses those).
    pub fn lookup(&self, model: &str, group: &str) -> Option<ModelPricing> {
        self.lookup_for(model, group, false)
    }

    /// The pricing of `model` for `group` for a caller whose `accept_unset_model_ratio_model` is
    /// `accept_unset`: with it, a model without a price (and no fallback pricing) costs what self-use mode
    /// charges, model ratio 37.5, as in Veloera; without it, such a model has no price.
    pub fn lookup_for(&self, model: &str, group: &str, accept_unset: bool) -> Option<ModelPricing> {
        let priced = |m: &str| self.model_ratio.contains_key(m) || self.model_price.contains_key(m);
        // A convenience suffix (`-thinking`, `-high`, ...) names the same model: it costs what the model costs,
        // unless the operator priced the suffixed name itself.
        let model = match base_model(model) {
            Some(base) if !priced(model) && priced(base) => base,
            _ => model,
        };
        let group_ratio = self.group_ratio.get(group).copied().unwrap_or(1.0);
        let mut model_price = self.model_price.get(model).copied();
        let mut completion_ratio =
            self.completion_ratio.get(model).copied().unwrap_or_else(|| default_completion_ratio(model));
        let model_ratio = match (self.model_ratio.get(model), model_price) {
            (Some(r), _) => *r,
            (None, Some(_)) => 0.0,
            (None, None) => match self.fallback {
                Some(FallbackPricing::PerCall(price)) => {
                    model_price = Some(price);
                    0.0
                }
                Some(FallbackPricing::Ratios { input, completion }) => {
                    completion_ratio = completion;
                    input
                }
                None if self.self_use_mode || accept_unset => UNSET_MODEL_RATIO,
                None => return None,
            },
        };
        Some(ModelPricing {
            model_ratio,
            completion_ratio,
            cache_ratio: self.cache_ratio.get(model).copied().unwrap_or(if model.starts_with("claude") {
                0.1
            } else {
                0.5
            }),
            cache_creation_ratio: self
                .cache_creation_ratio
                .get(model)
                .copied()
                .unwrap_or_else(|| default_cache_creation_ratio(model)),
            group_ratio,
            model_price,
            quota_per_unit: self.quota_per_unit,
        })
    }
}

/// A map in name order, so the JSON `/api/option/` shows is stable.
fn sorted(map: &HashMap<String, f64>) -> BTreeMap<&str, f64> {
    map.iter().map(|(k, v)| (k.as_str(), *v)).collect()
}

/// A group a user may pick, as `GET /api/user/groups` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsableGroup {
    pub ratio: f64,
    pub desc: String,
}

/// The model a Veloera convenience name stands for: `-thinking`, `-thinking-<N>`, `-nothinking`, and
/// `-high` / `-medium` / `-low` reasoning effort.
fn base_model(model: &str) -> Option<&str> {
    for suffix in ["-nothinking", "-thinking", "-high", "-medium", "-low"] {
        if let Some(base) = model.strip_suffix(suffix) {
            return Some(base);
        }
    }
    let (base, budget) = model.rsplit_once("-thinking-")?;
    budget.parse::<u64>().ok().map(|_| base)
}

/// Models priced per call (USD), as Veloera prices image generation.
const DEFAULT_MODEL_PRICES: &[(&str, f64)] = &[
    ("dall-e-2", 0.02),
    ("dall-e-3", 0.04),
    ("gpt-image-1", 0.04),
    // Cohere bills rerank per search.
    ("rerank-english-v3.0", 0.002),
    ("rerank-multilingual-v3.0", 0.002),
    ("rerank-v3.5", 0.002),
];

fn default_completion_ratio(model: &str) -> f64 {
    DEFAULT_COMPLETION_RATIOS
        .iter()
        .filter(|(prefix, _)| model.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, r)| *r)
        .unwrap_or(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convenience_suffixes_cost_what_their_model_costs() {
        let t = PriceTable::default();
        let base = t.lookup("claude-sonnet-4-5", "default").unwrap().model_ratio;
        assert_eq!(t.lookup("claude-sonnet-4-5-thinking", "default").unwrap().model_ratio, base);
        assert_eq!(t.lookup("gemini-2.5-flash-thinking-2048", "default").unwrap().model_ratio, 0.15);
        assert!(t.lookup("no-such-model-thinking", "default").is_none());
    }

    #[test]
    fn unset_price_options_show_the_values_in_force() {
        let t = PriceTable::default();
        let ratios: HashMap<String, f64> = serde_json::from_str(&t.option_value("ModelRatio").unwrap()).unwrap();
        assert_eq!(ratios["gpt-4o-mini"], 0.075);
        let completion: HashMap<String, f64> =
            serde_json::from_str(&t.option_value("CompletionRatio").unwrap()).unwrap();
        assert_eq!((completion["gpt-4o"], completion["claude-opus-4-5"], completion["dall-e-3"]), (4.0, 5.0, 1.0));
        let cache: HashMap<String, f64> = serde_json::from_str(&t.option_value("CacheRatio").unwrap()).unwrap();
        assert_eq!((cache["gpt-4o"], cache["claude-haiku-4-5"]), (0.5, 0.1));
        let groups: HashMap<String, String> =
            serde_json::from_str(&t.option_value("UserUsableGroups").unwrap()).unwrap();
        assert!(groups.contains_key("default"));
        assert_eq!(t.option_value("QuotaPerUnit").as_deref(), Some("500000"));
        assert_eq!(t.option_value("SystemName"), None);
        // Shown values are accepted back unchanged, and price the same.
        for key in ["ModelRatio", "ModelPrice", "GroupRatio", "UserUsableGroups", "CompletionRatio", "CacheRatio"] {
            let options = HashMap::from([(key.to_string(), t.option_value(key).unwrap())]);
            let again = PriceTable::from_options(&options).unwrap();
            assert_eq!(again.lookup("gpt-4o", "default"), t.lookup("gpt-4o", "default"), "{key}");
        }
    }

    #[test]
    fn charge_follows_the_ratio_formula() {
        let p = PriceTable::default().lookup("gpt-4o-mini", "default").unwrap();
        // (100 + 50×4) × 0.075 = 22.5 → 23
        assert_eq!(quota_for(&p, 100, 50, 0, 0), 23);
    }

    #[test]
    fn cached_prompt_tokens_are_discounted() {
        let p = PriceTable::default().lookup("gpt-4o", "default").unwrap();
        // (1000 − 800 + 800×0.5 + 0) × 1.25 = 750
        assert_eq!(quota_for(&p, 1000, 0, 800, 0), 750);
    }

    #[test]
    fn tiny_usage_costs_at_least_one() {
        let p = PriceTable::default().lookup("gpt-4o-mini", "default").unwrap();
        assert_eq!(quota_for(&p, 1, 0, 0, 0), 1);
        assert_eq!(quota_for(&p, 0, 0, 0, 0), 0);
    }

    #[test]
    fn unpriced_models_are_refused_unless_self_use_mode() {
        assert!(PriceTable::default().lookup("mystery-model", "default").is_none());
        let opts = HashMap::from([("SelfUseModeEnabled".to_string(), "true".to_string())]);
        assert_eq!(
            PriceTable::from_options(&opts).unwrap().lookup("mystery-model", "default").unwrap().model_ratio,
            37.5
        );
    }

    #[test]
    fn a_user_accepting_unset_models_pays_the_self_use_ratio_for_them_only() {
        let t = PriceTable::default();
        let unset = t.lookup_for("mystery-model", "default", true).unwrap();
        assert_eq!((unset.model_ratio, unset.model_price), (UNSET_MODEL_RATIO, None));
        assert!(t.lookup_for("mystery-model", "default", false).is_none());
        assert_eq!(t.lookup_for("gpt-4o-mini", "default", true), t.lookup("gpt-4o-mini", "default"));
    }

    #[test]
    fn fixed_price_and_group_ratio_apply() {
        let opts = HashMap::from([
            ("ModelPrice".to_string(), r#"{"dall-e-3": 0.04}"#.to_string()),
            ("GroupRatio".to_string(), r#"{"default": 1, "vip": 0.5}"#.to_string()),
        ]);
        let t = PriceTable::from_options(&opts).unwrap();
        assert_eq!(quota_for(&t.lookup("dall-e-3", "vip").unwrap(), 10, 10, 0, 0), 10_000);
    }

    #[test]
    fn malformed_option_is_reported_by_name() {
        let opts = HashMap::from([("ModelRatio".to_string(), "{not json".to_string())]);
        assert!(PriceTable::from_options(&opts).unwrap_err().contains("ModelRatio"));
    }

    #[test]
    fn claude_cache_writes_default_to_one_and_a_quarter() {
        let t = PriceTable::default();
        let p = t.lookup("claude-sonnet-4-5", "default").unwrap();
        assert_eq!((p.cache_ratio, p.cache_creation_ratio), (0.1, 1.25));
        // (100 written × 1.25 + 10 × 5) × 1.5 = 262.5 → 263
        assert_eq!(quota_for(&p, 100, 10, 0, 100), 263);
        assert_eq!(t.lookup("gpt-4o", "default").unwrap().cache_creation_ratio, 1.0);
    }

    #[test]
    fn create_cache_ratio_option_overrides_the_default() {
        let opts = HashMap::from([("CreateCacheRatio".to_string(), r#"{"claude-sonnet-4-5": 2}"#.to_string())]);
        let t = PriceTable::from_options(&opts).unwrap();
        assert_eq!(t.lookup("claude-sonnet-4-5", "default").unwrap().cache_creation_ratio, 2.0);
        assert_eq!(t.lookup("claude-haiku-4-5", "default").unwrap().cache_creation_ratio, 1.25);
    }

    fn options(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fallback_pricing_prices_unpriced_models_only() {
        let ratios = options(&[
            ("fallback_pricing_enabled", "true"),
            ("fallback_input_ratio", "2"),
            ("fallback_completion_ratio", "3"),
        ]);
        let t = PriceTable::from_options(&ratios).unwrap();
        let p = t.lookup("mystery-model", "default").unwrap();
        assert_eq!((p.model_ratio, p.completion_ratio, p.model_price), (2.0, 3.0, None));
        // (10 + 10×3) × 2 = 80
        assert_eq!(quota_for(&p, 10, 10, 0, 0), 80);
        assert_eq!(t.lookup("gpt-4o-mini", "default").unwrap().model_ratio, 0.075);

        let per_call = options(&[("fallback_pricing_enabled", "true"), ("fallback_single_price", "0.01")]);
        let p = PriceTable::from_options(&per_call).unwrap().lookup("mystery-model", "default").unwrap();
        assert_eq!(quota_for(&p, 1000, 1000, 0, 0), 5_000);

        // Off unless enabled; then self-use mode still prices it, and fallback wins over self-use.
        let off = options(&[("fallback_pricing_enabled", "false"), ("fallback_input_ratio", "2")]);
        assert!(PriceTable::from_options(&off).unwrap().lookup("mystery-model", "default").is_none());
        let both = options(&[
            ("SelfUseModeEnabled", "true"),
            ("fallback_pricing_enabled", "true"),
            ("fallback_input_ratio", "2"),
        ]);
        assert_eq!(
            PriceTable::from_options(&both).unwrap().lookup("mystery-model", "default").unwrap().model_ratio,
            2.0
        );
    }

    #[test]
    fn fallback_pricing_modes_are_exclusive_and_checked() {
        for bad in [
            vec![
                ("fallback_pricing_enabled", "true"),
                ("fallback_single_price", "0.01"),
                ("fallback_input_ratio", "2"),
            ],
            vec![
                ("fallback_pricing_enabled", "true"),
                ("fallback_single_price", "0.01"),
                ("fallback_completion_ratio", "2"),
            ],
            vec![("fallback_pricing_enabled", "true")],
            vec![("fallback_pricing_enabled", "true"), ("fallback_input_ratio", "-1")],
            vec![("fallback_pricing_enabled", "true"), ("fallback_single_price", "cheap")],
        ] {
            let err = PriceTable::from_options(&options(&bad)).unwrap_err();
            assert!(err.contains("fallback"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn usable_groups_add_the_users_own_and_drop_retired_ones() {
        let opts = options(&[
            ("GroupRatio", r#"{"default": 1, "vip": 2, "svip": 3}"#),
            ("UserUsableGroups", r#"{"default": "Default", "vip": "VIP", "gone": "Retired"}"#),
        ]);
        let t = PriceTable::from_options(&opts).unwrap();
        let groups = t.usable_groups("svip");
        assert_eq!(groups.keys().map(String::as_str).collect::<Vec<_>>(), ["default", "svip", "vip"]);
        assert_eq!(groups["vip"], UsableGroup { ratio: 2.0, desc: "VIP".into() });
        assert_eq!(t.group_names(), ["default", "svip", "vip"]);

        assert_eq!(t.refuse_token_group("default", ""), None);
        assert_eq!(t.refuse_token_group("default", "vip"), None);
        assert_eq!(t.refuse_token_group("svip", "svip"), None);
        assert!(t.refuse_token_group("default", "svip").unwrap().contains("not available"));
        assert!(t.refuse_token_group("default", "gone").unwrap().contains("retired"));
    }

    #[test]
    fn group_options_are_checked() {
        assert!(PriceTable::from_options(&options(&[("GroupRatio", r#"{"vip": -1}"#)])).unwrap_err().contains("vip"));
        let err = PriceTable::from_options(&options(&[("UserUsableGroups", "[1]")])).unwrap_err();
        assert!(err.contains("UserUsableGroups"), "{err}");
    }
}
