//! Adaptors: pure translators between our inbound requests and an upstream wire format. No I/O here.

pub mod openai;
