//! Prices in Veloera's units: 1 ratio unit = $0.002 per 1K tokens, `QuotaPerUnit` quota = $1.

use std::collections::{BTreeSet, HashMap};

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
pub fn quota_for(p: &ModelPricing, prompt: i64, completion: i64, cached: i64) -> i64 {
    veloera_proto::rules::quota_for(p, prompt, completion, cached)
}

/// The whole price configuration, built from defaults overlaid with the options table.
#[derive(Debug, Clone)]
pub struct PriceTable {
    model_ratio: HashMap<String, f64>,
    completion_ratio: HashMap<String, f64>,
    cache_ratio: HashMap<String, f64>,
    model_price: HashMap<String, f64>,
    group_ratio: HashMap<String, f64>,
    quota_per_unit: i64,
    /// `SelfUseModeEnabled`: unpriced models cost ratio 37.5 instead of being refused.
    self_use_mode: bool,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable {
            model_ratio: DEFAULT_MODEL_RATIOS.iter().map(|(m, r)| (m.to_string(), *r)).collect(),
            completion_ratio: HashMap::new(),
            cache_ratio: HashMap::new(),
            model_price: DEFAULT_MODEL_PRICES.iter().map(|(m, p)| (m.to_string(), *p)).collect(),
            group_ratio: [("default", 1.0), ("vip", 1.0), ("svip", 1.0)]
                .iter()
                .map(|(g, r)| (g.to_string(), *r))
                .collect(),
            quota_per_unit: DEFAULT_QUOTA_PER_UNIT,
            self_use_mode: false,
        }
    }
}

impl PriceTable {
    /// Overlays Veloera's option keys (`ModelRatio`, `CompletionRatio`, `CacheRatio`, `ModelPrice`, `GroupRatio`
    /// as JSON maps; `QuotaPerUnit`; `SelfUseModeEnabled`). A malformed option is reported, not ignored.
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
        if let Some(m) = map("ModelPrice")? {
            t.model_price = m;
        }
        if let Some(m) = map("GroupRatio")? {
            t.group_ratio = m;
        }
        if let Some(q) = options.get("QuotaPerUnit") {
            let q: f64 = q.trim().parse().map_err(|_| format!("option QuotaPerUnit: {q:?} is not a number"))?;
            t.quota_per_unit = q.round() as i64;
        }
        if let Some(v) = options.get("SelfUseModeEnabled") {
            t.self_use_mode = v.trim() == "true";
        }
        Ok(t)
    }

    pub fn quota_per_unit(&self) -> i64 {
        self.quota_per_unit
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

    /// The pricing of `model` for `group`, or `None` when the model has no price (Veloera refuses those).
    pub fn lookup(&self, model: &str, group: &str) -> Option<ModelPricing> {
        let priced = |m: &str| self.model_ratio.contains_key(m) || self.model_price.contains_key(m);
        // A convenience suffix (`-thinking`, `-high`, ...) names the same model: it costs what the model costs,
        // unless the operator priced the suffixed name itself.
        let model = match base_model(model) {
            Some(base) if !priced(model) && priced(base) => base,
            _ => model,
        };
        let group_ratio = self.group_ratio.get(group).copied().unwrap_or(1.0);
        let model_price = self.model_price.get(model).copied();
        let model_ratio = match (self.model_ratio.get(model), model_price) {
            (Some(r), _) => *r,
            (None, Some(_)) => 0.0,
            (None, None) if self.self_use_mode => 37.5,
            (None, None) => return None,
        };
        Some(ModelPricing {
            model_ratio,
            completion_ratio: self
                .completion_ratio
                .get(model)
                .copied()
                .unwrap_or_else(|| default_completion_ratio(model)),
            cache_ratio: self.cache_ratio.get(model).copied().unwrap_or(if model.starts_with("claude") {
                0.1
            } else {
                0.5
            }),
            group_ratio,
            model_price,
            quota_per_unit: self.quota_per_unit,
        })
    }
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
    fn charge_follows_the_ratio_formula() {
        let p = PriceTable::default().lookup("gpt-4o-mini", "default").unwrap();
        // (100 + 50×4) × 0.075 = 22.5 → 23
        assert_eq!(quota_for(&p, 100, 50, 0), 23);
    }

    #[test]
    fn cached_prompt_tokens_are_discounted() {
        let p = PriceTable::default().lookup("gpt-4o", "default").unwrap();
        // (1000 − 800 + 800×0.5 + 0) × 1.25 = 750
        assert_eq!(quota_for(&p, 1000, 0, 800), 750);
    }

    #[test]
    fn tiny_usage_costs_at_least_one() {
        let p = PriceTable::default().lookup("gpt-4o-mini", "default").unwrap();
        assert_eq!(quota_for(&p, 1, 0, 0), 1);
        assert_eq!(quota_for(&p, 0, 0, 0), 0);
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
    fn fixed_price_and_group_ratio_apply() {
        let opts = HashMap::from([
            ("ModelPrice".to_string(), r#"{"dall-e-3": 0.04}"#.to_string()),
            ("GroupRatio".to_string(), r#"{"default": 1, "vip": 0.5}"#.to_string()),
        ]);
        let t = PriceTable::from_options(&opts).unwrap();
        assert_eq!(quota_for(&t.lookup("dall-e-3", "vip").unwrap(), 10, 10, 0), 10_000);
    }

    #[test]
    fn malformed_option_is_reported_by_name() {
        let opts = HashMap::from([("ModelRatio".to_string(), "{not json".to_string())]);
        assert!(PriceTable::from_options(&opts).unwrap_err().contains("ModelRatio"));
    }
}
