//! TLS for the gRPC listener (rustls through tonic): the certificate chain and key from `CONTROL_GRPC_TLS_CERT`
//! and `CONTROL_GRPC_TLS_KEY`, read once at start so a bad file stops the service with the file named.

use tonic::transport::{Identity, ServerTlsConfig};

use crate::config::GrpcTls;
use crate::error::ControlError;

/// The listener's TLS configuration from the PEM files `tls` names.
pub fn server_config(tls: &GrpcTls) -> Result<ServerTlsConfig, ControlError> {
    let read = |path: &std::path::Path, var: &str| {
        std::fs::read(path).map_err(|e| ControlError::Internal(format!("{var}: cannot read {}: {e}", path.display())))
    };
    let cert = read(&tls.cert, "CONTROL_GRPC_TLS_CERT")?;
    let key = read(&tls.key, "CONTROL_GRPC_TLS_KEY")?;
    if !String::from_utf8_lossy(&cert).contains("-----BEGIN CERTIFICATE-----") {
        return Err(ControlError::Internal(format!(
            "CONTROL_GRPC_TLS_CERT: {} holds no PEM certificate",
            tls.cert.display()
        )));
    }
    if !String::from_utf8_lossy(&key).contains("PRIVATE KEY-----") {
        return Err(ControlError::Internal(format!(
            "CONTROL_GRPC_TLS_KEY: {} holds no PEM private key",
            tls.key.display()
        )));
    }
    Ok(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_non_pem_file_is_refused_naming_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let missing = GrpcTls { cert: dir.path().join("none.pem"), key: junk.clone() };
        assert!(server_config(&missing).unwrap_err().to_string().contains("CONTROL_GRPC_TLS_CERT"));
        let not_pem = GrpcTls { cert: junk.clone(), key: junk };
        assert!(server_config(&not_pem).unwrap_err().to_string().contains("holds no PEM certificate"));
    }
}
