//! The global virtual-model mapping (Veloera v0.5 option `global_model_mapping`): one public name served by
//! several real models, `{"virtual": [{"model": "real", "priorities": 10}, …]}`. Higher `priorities` first;
//! real models with equal priorities share traffic; a retry moves on to the next priority.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Option name, as Veloera stores it.
pub const OPTION: &str = "global_model_mapping";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealModel {
    pub model: String,
    #[serde(default)]
    pub priorities: i64,
}

/// Virtual name → its real models, highest priority first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VirtualModels(BTreeMap<String, Vec<RealModel>>);

impl VirtualModels {
    /// Parses and checks the option text; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut map: BTreeMap<String, Vec<RealModel>> = serde_json::from_str(text).map_err(|e| {
            format!("{OPTION} must be a JSON object of virtual model → [{{\"model\", \"priorities\"}}]: {e}")
        })?;
        for (name, reals) in &mut map {
            if name.trim().is_empty() {
                return Err(format!("{OPTION}: a virtual model name is empty"));
            }
            if reals.is_empty() {
                return Err(format!("{OPTION}: virtual model {name} lists no real model"));
            }
            if let Some(r) = reals.iter().find(|r| r.model.trim().is_empty() || &r.model == name) {
                return Err(format!("{OPTION}: virtual model {name} has an invalid real model {:?}", r.model));
            }
            reals.sort_by_key(|r| std::cmp::Reverse(r.priorities));
        }
        Ok(VirtualModels(map))
    }

    /// The real models behind `name` grouped by priority, highest first; `None` when `name` is not virtual.
    pub fn tiers(&self, name: &str) -> Option<Vec<Vec<&str>>> {
        let reals = self.0.get(name)?;
        let mut tiers: Vec<(i64, Vec<&str>)> = Vec::new();
        for r in reals {
            match tiers.last_mut() {
                Some((p, models)) if *p == r.priorities => models.push(&r.model),
                _ => tiers.push((r.priorities, vec![&r.model])),
            }
        }
        Some(tiers.into_iter().map(|(_, m)| m).collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<RealModel>)> {
        self.0.iter()
    }

    /// The option text for these mappings.
    pub fn to_option(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_models_are_tiered_by_priority() {
        let v = VirtualModels::parse(
            r#"{"smart": [{"model": "b", "priorities": 1}, {"model": "a", "priorities": 5}, {"model": "c", "priorities": 5}]}"#,
        )
        .unwrap();
        assert_eq!(v.tiers("smart").unwrap(), vec![vec!["a", "c"], vec!["b"]]);
        assert!(v.tiers("a").is_none());
    }

    #[test]
    fn bad_mappings_are_refused_with_a_reason() {
        for (text, word) in [
            ("[1]", "JSON object"),
            (r#"{"v": []}"#, "no real model"),
            (r#"{"v": [{"model": "v"}]}"#, "invalid real model"),
            (r#"{"v": [{"model": "a", "weight": 1}]}"#, "JSON object"),
        ] {
            let err = VirtualModels::parse(text).unwrap_err();
            assert!(err.contains(word), "{text}: {err}");
        }
    }
}
