//! A tiny SMTP server on port 0: speaks enough of the dialogue (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) for
//! lettre, and captures each message. No STARTTLS is offered, so the client stays in plain text on loopback.

use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::harness::Gateway;

#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// `user:password` from AUTH PLAIN, if the client authenticated.
    pub auth: String,
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, CRLF line ends, dot-stuffing undone).
    pub data: String,
}

impl Captured {
    /// The message body as a mail client shows it: everything after the first empty line, quoted-printable
    /// decoded when the message says so (lettre uses it once a line is longer than 76 characters).
    pub fn body(&self) -> String {
        let (headers, body) = self.data.split_once("\r\n\r\n").unwrap_or_default();
        if !headers.to_ascii_lowercase().contains("content-transfer-encoding: quoted-printable") {
            return body.to_string();
        }
        let joined = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
            match (bytes[i], hex) {
                (b'=', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

pub struct FakeSmtp {
    pub port: u16,
    messages: Arc<Mutex<Vec<Captured>>>,
}

/// Points `gw`'s mail options at an SMTP server on `port` (this catcher's, or a closed one), as site "TestSite"
/// at https://gw.test/.
pub async fn send_site_mail_to(gw: &Gateway, port: u16) {
    let port = port.to_string();
    gw.set_options(&[
        ("SMTPServer", "127.0.0.1"),
        ("SMTPPort", &port),
        ("SMTPAccount", "mailer@site.test"),
        ("SMTPToken", "smtp-password"),
        ("SystemName", "TestSite"),
        ("ServerAddress", "https://gw.test/"),
    ])
    .await;
}

impl FakeSmtp {
    /// The 6-character code in the latest message to `to`.
    pub fn code_sent_to(&self, to: &str) -> String {
        let message =
            self.messages().into_iter().rev().find(|m| m.to.iter().any(|t| t.contains(to))).expect("a message");
        let body = message.body();
        let start = body.find(": ").unwrap() + 2;
        body[start..start + 6].to_string()
    }

    pub async fn start() -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(session(socket, sink.clone()));
            }
        });
        FakeSmtp { port, messages }
    }

    pub fn messages(&self) -> Vec<Captured> {
        self.messages.lock().unwrap().clone()
    }
}

async fn session(socket: tokio::net::TcpStream, sink: Arc<Mutex<Vec<Captured>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let mut current = Captured::default();
    let mut auth = String::new();
    if write.write_all(b"220 fake.test ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-fake.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") {
            b"250 fake.test\r\n"
        } else if let Some(encoded) = upper.strip_prefix("AUTH PLAIN ").map(|_| &command[11..]) {
            let raw = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).unwrap_or_default();
            let parts: Vec<String> = raw.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            auth = parts.get(1..3).map(|p| p.join(":")).unwrap_or_default();
            b"235 2.7.0 accepted\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            current = Captured { auth: auth.clone(), from: command[10..].trim().to_string(), ..Default::default() };
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            current.to.push(command[8..].trim().to_string());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                return;
            }
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            current.data = data;
            sink.lock().unwrap().push(std::mem::take(&mut current));
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"250 ok\r\n"
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}
