//! Outgoing mail over SMTP (lettre on tokio with rustls), configured by the `SMTP*` options.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::SmtpSettings;
use crate::error::ControlError;

const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

/// One plain-text message.
pub struct Mail<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// The answer when the site has no mail server configured.
pub fn not_configured() -> ControlError {
    ControlError::BadRequest("this site cannot send email: no mail server is configured (option SMTPServer)".into())
}

/// Sends `mail` through the configured server. With `SMTPSSLEnabled` the connection is TLS from the start
/// (port 465); otherwise STARTTLS is used when offered, and required whenever a password would be sent to a
/// server that is not on this machine (as Go's `smtp.PlainAuth` insists).
pub async fn send(smtp: &SmtpSettings, mail: &Mail<'_>) -> Result<(), ControlError> {
    if !smtp.configured() {
        return Err(not_configured());
    }
    let from_text = if smtp.from.is_empty() { smtp.account.as_str() } else { smtp.from.as_str() };
    let from: Mailbox = from_text.parse().map_err(|e| ControlError::Upstream {
        public: "this site's sender address (option SMTPFrom) is invalid; tell the administrator".into(),
        detail: format!("SMTPFrom {from_text:?}: {e}"),
    })?;
    let to: Mailbox =
        mail.to.parse().map_err(|_| ControlError::BadRequest("email is not a valid email address".into()))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.to_string())
        .map_err(|e| ControlError::Internal(format!("cannot build the mail: {e}")))?;

    let tls_parameters = TlsParameters::new(smtp.server.clone())
        .map_err(|e| ControlError::Internal(format!("TLS setup for {}: {e}", smtp.server)))?;
    let has_credentials = !smtp.account.is_empty();
    let tls = if smtp.ssl {
        Tls::Wrapper(tls_parameters)
    } else if has_credentials && !is_loopback(&smtp.server) {
        Tls::Required(tls_parameters)
    } else {
        Tls::Opportunistic(tls_parameters)
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.server.as_str())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if has_credentials {
        builder = builder.credentials(Credentials::new(smtp.account.clone(), smtp.token.clone()));
    }
    builder.build().send(message).await.map_err(|e| ControlError::Upstream {
        public: "the mail server did not accept the message; try again later".into(),
        detail: format!("SMTP {}:{}: {e}", smtp.server, smtp.port),
    })?;
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
