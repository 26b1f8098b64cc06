//! The TLS client configuration of the HTTP/1.1 load generator: rustls with the ring provider,
//! offering only `http/1.1` through ALPN, and trusting the system's authorities, one PEM file's,
//! or (for throwaway self-signed certificates) any certificate at all.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use torsion::tls::ClientTlsSpec;

use super::h1_client::ALPN_HTTP1;

/// A client configuration trusting `ca` (a PEM file), or any certificate when `insecure`, or
/// else the system's authorities.
///
/// # Errors
///
/// A one-line message naming the file that cannot be used.
pub(crate) fn client_config(
    ca: Option<PathBuf>,
    insecure: bool,
) -> Result<Arc<ClientConfig>, String> {
    if !insecure {
        let spec = ClientTlsSpec {
            ca_certs: ca,
            alpn_protocols: vec![ALPN_HTTP1.to_vec()],
            ..ClientTlsSpec::default()
        };
        let hint = "(--ca FILE trusts a certificate file, --insecure trusts any)";
        return torsion::tls::client_config(&spec).map_err(|error| format!("{error} {hint}"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = AnyCertificate {
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS setup: {error}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any server certificate, but checks that the server's handshake signatures were
/// made with the certificate's key (`--insecure`, for throwaway self-signed certificates).
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
