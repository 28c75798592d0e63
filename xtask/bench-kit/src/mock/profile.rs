//! Per-model behaviour of the mock: how long to wait before answering and how a stream is paced.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// One model's behaviour, written `LATENCY_MS:CHUNKS:INTERVAL_MS` on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// Delay before the response head (and, when streaming, the first chunk).
    pub latency: Duration,
    /// Content chunks in a streamed answer, before the finish/usage/`[DONE]` frames.
    pub chunks: u32,
    /// Gap between consecutive content chunks; zero sends them back to back.
    pub interval: Duration,
}

impl Default for Profile {
    /// `0:8:0`: answer at once, eight unpaced chunks when streaming.
    fn default() -> Self {
        Profile { latency: Duration::ZERO, chunks: 8, interval: Duration::ZERO }
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut parts = spec.split(':');
        let (Some(latency), Some(chunks), Some(interval), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("expected LATENCY_MS:CHUNKS:INTERVAL_MS".to_owned());
        };
        let millis = |field: &str, name: &str| {
            field.parse::<u64>().map(Duration::from_millis).map_err(|e| format!("{name} {field:?}: {e}"))
        };
        Ok(Profile {
            latency: millis(latency, "latency")?,
            chunks: chunks.parse().map_err(|e| format!("chunks {chunks:?}: {e}"))?,
            interval: millis(interval, "interval")?,
        })
    }
}

/// The profile table: explicit models plus a default for every other model name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profiles {
    default: Profile,
    models: HashMap<String, Profile>,
}

impl Profiles {
    /// Adds one `MODEL=LATENCY_MS:CHUNKS:INTERVAL_MS` entry; the model `*` replaces the default.
    pub fn add(&mut self, entry: &str) -> Result<(), String> {
        // Split on the last '=' so a model name may itself contain one; profiles never do.
        let (model, spec) = entry.rsplit_once('=').ok_or("expected MODEL=LATENCY_MS:CHUNKS:INTERVAL_MS")?;
        if model.is_empty() {
            return Err("empty model name".to_owned());
        }
        let profile = spec.parse()?;
        if model == "*" {
            self.default = profile;
        } else {
            self.models.insert(model.to_owned(), profile);
        }
        Ok(())
    }

    /// The profile for `model`, falling back to the default.
    pub fn for_model(&self, model: &str) -> Profile {
        self.models.get(model).copied().unwrap_or(self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_override_only_their_model() {
        let mut profiles = Profiles::default();
        profiles.add("gpt-4.1-mini=0:64:20").unwrap();
        profiles.add("gpt-4o=20:0:0").unwrap();
        assert_eq!(
            profiles.for_model("gpt-4.1-mini"),
            Profile { latency: Duration::ZERO, chunks: 64, interval: Duration::from_millis(20) }
        );
        assert_eq!(profiles.for_model("gpt-4o").latency, Duration::from_millis(20));
        assert_eq!(profiles.for_model("other"), Profile::default());
    }

    #[test]
    fn star_replaces_the_default() {
        let mut profiles = Profiles::default();
        profiles.add("*=5:2:1").unwrap();
        assert_eq!(profiles.for_model("anything").chunks, 2);
    }

    #[test]
    fn malformed_entries_are_rejected() {
        let mut profiles = Profiles::default();
        for bad in ["gpt-4o", "=1:2:3", "m=1:2", "m=1:2:3:4", "m=a:2:3", "m=1:-2:3"] {
            assert!(profiles.add(bad).is_err(), "{bad} was accepted");
        }
    }
}
