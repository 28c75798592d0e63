//! The options (rows of the `options` table, Veloera's names) that govern sign-up, sign-in and email, typed.
//! Parsed with the rest of the options snapshot (`settings::Options::accounts`) whenever an option changes.

use std::collections::HashMap;

use crate::settings::flag;

/// Sign-up and sign-in switches, quotas for new accounts, OAuth providers and the mail server. Its `Debug`
/// leaves the OAuth client secrets and the SMTP password out.
#[derive(Clone)]
pub struct AccountSettings {
    /// `RegisterEnabled` (true): any new account at all, by password or OAuth.
    pub register_enabled: bool,
    /// `PasswordRegisterEnabled` (true): `POST /api/user/register`.
    pub password_register_enabled: bool,
    /// `PasswordLoginEnabled` (true): password sign-in for everyone but root.
    pub password_login_enabled: bool,
    /// `EmailVerificationEnabled` (false): registration needs an email address and the code sent to it.
    pub email_verification_enabled: bool,
    /// `EmailDomainRestrictionEnabled` (false) with `EmailDomainWhitelist` (comma list of domains).
    pub email_domain_restriction_enabled: bool,
    pub email_domain_whitelist: Vec<String>,
    /// `QuotaForNewUser`, `QuotaForInvitee`, `QuotaForInviter` (all 0).
    pub quota_for_new_user: i64,
    pub quota_for_invitee: i64,
    pub quota_for_inviter: i64,
    /// `SystemName` (Veloera): used in mail subjects.
    pub system_name: String,
    /// `ServerAddress` (http://localhost:3000): the public address, for links in mail and the OIDC redirect URI.
    pub server_address: String,
    pub github: GitHubSettings,
    pub oidc: OidcSettings,
    pub smtp: SmtpSettings,
}

/// `GitHubOAuthEnabled`, `GitHubClientId`, `GitHubClientSecret`.
#[derive(Clone)]
pub struct GitHubSettings {
    pub enabled: bool,
    pub client_id: String,
    pub client_secret: String,
}

/// `OidcEnabled`, `OidcClientId`, `OidcClientSecret`, and either `OidcWellKnown` (the discovery document) or the
/// explicit `OidcAuthorizationEndpoint`, `OidcTokenEndpoint`, `OidcUserInfoEndpoint` (which win when set).
#[derive(Clone)]
pub struct OidcSettings {
    pub enabled: bool,
    pub client_id: String,
    pub client_secret: String,
    pub well_known: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
}

/// `SMTPServer` (empty: no mail), `SMTPPort` (587, or 465 with SSL), `SMTPAccount`, `SMTPFrom` (the account when
/// empty), `SMTPToken` (the password), `SMTPSSLEnabled` (implicit TLS instead of STARTTLS).
#[derive(Clone)]
pub struct SmtpSettings {
    pub server: String,
    pub port: u16,
    pub account: String,
    pub from: String,
    pub token: String,
    pub ssl: bool,
}

impl SmtpSettings {
    pub fn configured(&self) -> bool {
        !self.server.is_empty()
    }
}

impl std::fmt::Debug for AccountSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSettings")
            .field("register_enabled", &self.register_enabled)
            .field("password_register_enabled", &self.password_register_enabled)
            .field("password_login_enabled", &self.password_login_enabled)
            .field("email_verification_enabled", &self.email_verification_enabled)
            .field("github_enabled", &self.github.enabled)
            .field("oidc_enabled", &self.oidc.enabled)
            .field("smtp_server", &self.smtp.server)
            .finish_non_exhaustive()
    }
}

impl AccountSettings {
    /// Unset or unreadable values take Veloera's defaults (an unreadable one is logged). Flags that are neither
    /// `true` nor `false` were already left out by the snapshot's parse, so they read as their default here.
    pub fn from_options(options: &HashMap<String, String>) -> Self {
        let o = Options(options);
        let ssl = o.flag("SMTPSSLEnabled", false);
        AccountSettings {
            register_enabled: o.flag("RegisterEnabled", true),
            password_register_enabled: o.flag("PasswordRegisterEnabled", true),
            password_login_enabled: o.flag("PasswordLoginEnabled", true),
            email_verification_enabled: o.flag("EmailVerificationEnabled", false),
            email_domain_restriction_enabled: o.flag("EmailDomainRestrictionEnabled", false),
            email_domain_whitelist: o
                .text("EmailDomainWhitelist")
                .split([',', '\n'])
                .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
            quota_for_new_user: o.quota("QuotaForNewUser"),
            quota_for_invitee: o.quota("QuotaForInvitee"),
            quota_for_inviter: o.quota("QuotaForInviter"),
            system_name: Some(o.text("SystemName")).filter(|s| !s.is_empty()).unwrap_or("Veloera").to_string(),
            server_address: Some(o.text("ServerAddress").trim_end_matches('/'))
                .filter(|s| !s.is_empty())
                .unwrap_or("http://localhost:3000")
                .to_string(),
            github: GitHubSettings {
                enabled: o.flag("GitHubOAuthEnabled", false),
                client_id: o.text("GitHubClientId").to_string(),
                client_secret: o.text("GitHubClientSecret").to_string(),
            },
            oidc: OidcSettings {
                enabled: o.flag("OidcEnabled", false),
                client_id: o.text("OidcClientId").to_string(),
                client_secret: o.text("OidcClientSecret").to_string(),
                well_known: o.text("OidcWellKnown").to_string(),
                authorization_endpoint: o.text("OidcAuthorizationEndpoint").to_string(),
                token_endpoint: o.text("OidcTokenEndpoint").to_string(),
                userinfo_endpoint: o.text("OidcUserInfoEndpoint").to_string(),
            },
            smtp: SmtpSettings {
                server: o.text("SMTPServer").to_string(),
                port: o.number("SMTPPort").and_then(|p| u16::try_from(p).ok()).unwrap_or(if ssl { 465 } else { 587 }),
                account: o.text("SMTPAccount").to_string(),
                from: o.text("SMTPFrom").to_string(),
                token: o.text("SMTPToken").to_string(),
                ssl,
            },
        }
    }

    /// Whether the domain restriction lets this address through (always, when the restriction is off).
    pub fn email_domain_allowed(&self, email: &str) -> bool {
        if !self.email_domain_restriction_enabled {
            return true;
        }
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
        self.email_domain_whitelist.contains(&domain)
    }
}

struct Options<'a>(&'a HashMap<String, String>);

impl Options<'_> {
    fn text(&self, name: &str) -> &str {
        self.0.get(name).map(|v| v.trim()).unwrap_or("")
    }

    fn flag(&self, name: &str, default: bool) -> bool {
        flag(self.0, name, default)
    }

    fn number(&self, name: &str) -> Option<i64> {
        let raw = self.text(name);
        if raw.is_empty() {
            return None;
        }
        let parsed = raw.parse::<i64>().ok();
        if parsed.is_none() {
            tracing::warn!(option = name, value = raw, "not a whole number; using the default");
        }
        parsed
    }

    /// A quota amount: a whole number ≥ 0 (a negative one would take quota away).
    fn quota(&self, name: &str) -> i64 {
        self.number(name).unwrap_or(0).max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> AccountSettings {
        AccountSettings::from_options(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn defaults_follow_veloera() {
        let s = settings(&[]);
        assert!(s.register_enabled && s.password_register_enabled && s.password_login_enabled);
        assert!(!s.email_verification_enabled && !s.github.enabled && !s.oidc.enabled && !s.smtp.configured());
        assert_eq!((s.quota_for_new_user, s.smtp.port), (0, 587));
        assert_eq!(s.server_address, "http://localhost:3000");
    }

    #[test]
    fn the_domain_whitelist_matches_whole_domains_without_case() {
        let s =
            settings(&[("EmailDomainRestrictionEnabled", "true"), ("EmailDomainWhitelist", "example.com, @Corp.org")]);
        assert!(s.email_domain_allowed("a@Example.COM"));
        assert!(s.email_domain_allowed("b@corp.org"));
        assert!(!s.email_domain_allowed("c@sub.example.com"));
        assert!(!s.email_domain_allowed("d@example.com.evil.org"));
        assert!(!s.email_domain_allowed("no-at-sign"));
        assert!(settings(&[("EmailDomainWhitelist", "example.com")]).email_domain_allowed("x@other.org"));
    }

    #[test]
    fn unreadable_values_take_the_defaults_and_quotas_are_never_negative() {
        let s = settings(&[("RegisterEnabled", "maybe"), ("QuotaForNewUser", "-5"), ("SMTPSSLEnabled", "true")]);
        assert!(s.register_enabled);
        assert_eq!(s.quota_for_new_user, 0);
        assert_eq!(s.smtp.port, 465);
    }

    #[test]
    fn debug_output_leaves_the_secrets_out() {
        let s =
            settings(&[("GitHubClientSecret", "gh-secret-1"), ("OidcClientSecret", "oidc-2"), ("SMTPToken", "pw-3")]);
        let shown = format!("{s:?}");
        for secret in ["gh-secret-1", "oidc-2", "pw-3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
