//! A channel's keys as secrets: the stored text never shows in `Debug` output or logs, and what a call needs from
//! it (the auth header's value, a parsed service account, AWS credentials) is made once, when the channel is.

use std::fmt;
use std::sync::Arc;

use http::{HeaderName, HeaderValue};

use super::Auth;
use crate::providers::bedrock::AwsKey;
use crate::providers::vertex::ServiceAccount;

/// A channel key as stored. `Debug` prints `ApiKey(***)`; only [`ApiKey::expose`] reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key's text, for building what a call sends and for scrubbing it from what an upstream says.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// What a call to the channel presents, made from the key by the channel's auth style.
#[derive(Debug, Clone)]
pub enum Credential {
    /// One header carrying the key (`Authorization: Bearer …`, or the key alone), marked sensitive.
    Header(HeaderName, HeaderValue),
    /// A Google service account, exchanged for an access token when the call is sent.
    ServiceAccount(Arc<ServiceAccount>),
    /// AWS credentials each call is signed with.
    Aws(AwsKey),
    /// The key cannot be used in the channel's auth style; building a call fails with this.
    Unusable(String),
}

/// One of a channel's keys: its slot among the channel's keys (for health and usage), the secret, and the
/// credential made from it.
#[derive(Debug)]
pub struct Key {
    pub slot: i32,
    pub secret: ApiKey,
    pub credential: Credential,
}

impl Key {
    /// The key in `slot` of channel `channel_id`, its credential made for `auth`.
    pub fn new(slot: i32, secret: String, auth: &Auth, channel_id: super::ChannelId) -> Key {
        let header = |name: HeaderName, value: String| match HeaderValue::from_str(&value) {
            Ok(mut value) => {
                // Never shown in debug output, never indexed by HTTP/2 header compression.
                value.set_sensitive(true);
                Credential::Header(name, value)
            }
            Err(_) => Credential::Unusable(format!("channel {channel_id} has a key that is not a valid header")),
        };
        let credential = match auth {
            Auth::Bearer => header(http::header::AUTHORIZATION, format!("Bearer {secret}")),
            Auth::Header(name) => header(name.clone(), secret.clone()),
            Auth::GoogleServiceAccount => match ServiceAccount::parse(&secret) {
                Ok(account) => Credential::ServiceAccount(Arc::new(account)),
                Err(e) => Credential::Unusable(e.to_string()),
            },
            Auth::SigV4 => match AwsKey::parse(&secret) {
                Ok(key) => Credential::Aws(key),
                Err(e) => Credential::Unusable(e.to_string()),
            },
        };
        Key { slot, secret: ApiKey(secret), credential }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelId;

    #[test]
    fn keys_never_show_in_debug_output() {
        let key = Key::new(0, "sk-secret-value".into(), &Auth::Bearer, ChannelId(1));
        let shown = format!("{key:?}");
        assert!(shown.contains("ApiKey(***)"), "{shown}");
        assert!(!shown.contains("sk-secret-value"), "{shown}");
        let aws = Key::new(0, "AKIDEXAMPLE|very-secret-part|us-east-1".into(), &Auth::SigV4, ChannelId(1));
        assert!(!format!("{aws:?}").contains("very-secret-part"));
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_unusable_with_the_channel_named() {
        let key = Key::new(0, "bad\nkey".into(), &Auth::Header(HeaderName::from_static("x-api-key")), ChannelId(7));
        assert!(matches!(&key.credential, Credential::Unusable(why) if why.contains("channel 7")));
    }
}
