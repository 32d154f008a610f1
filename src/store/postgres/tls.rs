//! TLS to PostgreSQL, as libpq's `sslmode` and `sslrootcert` describe it,
//! with rustls.
//!
//! tokio-postgres knows only `disable`, `prefer` and `require`, refuses any
//! other URL option, and leaves checking the server's certificate to the TLS
//! connector. So the URL's TLS options are taken out here and turned into a
//! connector that does what libpq does:
//! - `disable`: plain TCP;
//! - `allow`, `prefer` (the default): TLS when the server offers it, its
//!   certificate unchecked, plain otherwise;
//! - `require`: TLS or no connection, the certificate unchecked, unless
//!   `sslrootcert` is given: then it is checked as for `verify-ca`;
//! - `verify-ca`: the certificate must chain to a root of `sslrootcert`;
//! - `verify-full`: and name the host connected to.
//!
//! `sslrootcert` is a PEM file, or `system` for the platform's roots; the
//! `verify-` modes need it (libpq's fallback, `~/.postgresql/root.crt`, is
//! used when it exists). Client certificates (`sslcert`, `sslkey`) are
//! refused with a clear error rather than ignored.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls::client::WebPkiServerVerifier;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{
    CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error as TlsError, RootCertStore,
    SignatureScheme,
};

use crate::store::StoreError;

/// What the URL asks of the connection's TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    File(PathBuf),
    System,
}

fn refused(why: String) -> StoreError {
    StoreError::Backend(why.into())
}

/// Splits a `postgres://` URL into tokio-postgres's configuration and the
/// TLS connector its `sslmode` and `sslrootcert` call for.
///
/// # Errors
/// An unknown `sslmode`, client certificate options, an unreadable or empty
/// root file, or a URL tokio-postgres cannot parse.
pub fn configure(url: &str) -> Result<(tokio_postgres::Config, MakeRustlsConnect), StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode = Mode::Prefer;
    let mut roots = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| refused(format!("the URL's {key} is not valid UTF-8")))?;
        match key {
            "sslmode" => {
                mode = match &*decoded {
                    "disable" => Mode::Disable,
                    "allow" | "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(refused(format!(
                            "unknown sslmode {other:?} in the database URL (disable, allow, prefer, require, verify-ca or verify-full)"
                        )));
                    }
                };
            }
            "sslrootcert" => {
                roots = Some(if &*decoded == "system" {
                    Roots::System
                } else {
                    Roots::File(PathBuf::from(&*decoded))
                });
            }
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                return Err(refused(format!(
                    "{key} in the database URL is not supported: mcp-bridge authenticates to PostgreSQL with a password, over TLS when asked (sslmode, sslrootcert)"
                )));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e: tokio_postgres::Error| StoreError::Backend(Box::new(e)))?;
    if mode == Mode::VerifyCa || mode == Mode::VerifyFull {
        roots = roots.or_else(default_root_file);
        if roots.is_none() {
            return Err(refused(format!(
                "sslmode={} needs the certificate authority to trust: add sslrootcert=/path/to/ca.pem (or sslrootcert=system) to the database URL",
                if mode == Mode::VerifyCa {
                    "verify-ca"
                } else {
                    "verify-full"
                }
            )));
        }
    }
    if mode == Mode::Require && roots.is_some() {
        mode = Mode::VerifyCa;
    }
    config.ssl_mode(match mode {
        Mode::Disable => SslMode::Disable,
        Mode::Prefer => SslMode::Prefer,
        Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
    });
    Ok((config, connector(mode, roots.as_ref())?))
}

/// libpq's default root file, when it exists.
fn default_root_file() -> Option<Roots> {
    let path = dirs::home_dir()?.join(".postgresql").join("root.crt");
    path.is_file().then_some(Roots::File(path))
}

fn connector(mode: Mode, roots: Option<&Roots>) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    let chain = match (mode, roots) {
        (Mode::VerifyCa | Mode::VerifyFull, Some(roots)) => Some(
            WebPkiServerVerifier::builder_with_provider(
                Arc::new(load_roots(roots)?),
                Arc::clone(&provider),
            )
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?,
        ),
        _ => None,
    };
    let verifier = Arc::new(Check {
        chain,
        name: mode == Mode::VerifyFull,
        provider,
    });
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn load_roots(roots: &Roots) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(path) => {
            for cert in certificates(path)? {
                store.add(cert).map_err(|e| {
                    refused(format!(
                        "sslrootcert {}: not a usable CA certificate: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
        }
    }
    if store.is_empty() {
        return Err(refused(match roots {
            Roots::File(path) => format!("sslrootcert {}: no certificate in it", path.display()),
            Roots::System => "sslrootcert=system: the platform has no root certificates".to_owned(),
        }));
    }
    Ok(store)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect)
        .map_err(|e| refused(format!("sslrootcert {}: {e}", path.display())))
}

/// The server certificate check of a mode. Handshake signatures are always
/// checked against the certificate's key, so even an unchecked certificate
/// binds the session to the key it names.
#[derive(Debug)]
struct Check {
    /// The chain check against the trusted roots; `None` (`prefer`, and
    /// `require` without roots): the certificate is taken as it comes, as
    /// libpq does.
    chain: Option<Arc<WebPkiServerVerifier>>,
    /// Whether the certificate must name the host (`verify-full`), not only
    /// chain to a root (`verify-ca`).
    name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Check {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(TlsError::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.name => Ok(ServerCertVerified::assertion()),
            checked => checked,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(url: &str) -> SslMode {
        configure(url).expect("configure").0.get_ssl_mode()
    }

    #[test]
    fn libpq_modes_map_onto_tokio_postgres() {
        assert_eq!(mode_of("postgres://u@h/d"), SslMode::Prefer);
        assert_eq!(
            mode_of("postgres://u@h/d?sslmode=disable"),
            SslMode::Disable
        );
        assert_eq!(mode_of("postgres://u@h/d?sslmode=allow"), SslMode::Prefer);
        assert_eq!(
            mode_of("postgres://u@h/d?sslmode=require"),
            SslMode::Require
        );
    }

    #[test]
    fn other_options_pass_through() {
        let (config, _) =
            configure("postgres://u@h/d?application_name=x&sslmode=require&connect_timeout=3")
                .expect("configure");
        assert_eq!(config.get_application_name(), Some("x"));
        assert_eq!(
            config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
    }

    #[test]
    fn bad_tls_options_are_refused_clearly() {
        let err = |url: &str| configure(url).err().expect("refused").to_string();
        assert!(err("postgres://h/d?sslmode=verify").contains("unknown sslmode"));
        assert!(err("postgres://h/d?sslcert=/c.pem").contains("not supported"));
        assert!(
            err("postgres://h/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")
                .contains("/nonexistent/ca.pem")
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let url = format!(
            "postgres://h/d?sslmode=verify-ca&sslrootcert={}",
            empty.display()
        );
        assert!(err(&url).contains("no certificate"));
    }
}
