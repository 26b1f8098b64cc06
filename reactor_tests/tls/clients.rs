//! Real clients over TLS: curl against a web site behind `ssl:`, Python's `ssl` module against
//! an `sni:` directory of certificates.

use std::fs;
use std::process::Command;
use std::rc::Rc;

use torsion::tls::TlsOptions;
use torsion::web::{Render, Request, Resource, Site};

use torsion::reactor::Reactor;

use super::{Pki, SslServer, beside, quoted, serve};
use crate::binary::curl;
use crate::util::new_reactor;

/// Answers every request with whether it arrived over TLS.
struct Secure;

impl Resource for Secure {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        Render::Body(format!("secure={}", request.is_secure()).into_bytes())
    }
}

/// A web site of [`Secure`] behind `ssl:`, offering only HTTP/1.1.
fn secure_site(label: &str, reactor: &Reactor) -> SslServer {
    let site = Site::new(reactor.clock().clone(), Rc::new(Secure));
    SslServer::start(label, reactor, &TlsOptions::http1_only(), site)
}

/// curl fetches a page over https, checking the certificate against the test authority; the
/// request says it is secure and HTTP/1.1 was negotiated.
#[test]
fn curl_fetches_over_https() {
    let reactor = new_reactor();
    let server = secure_site("curl", &reactor);
    let (ca, address) = (server.pki.ca.clone(), server.address);
    let output = beside(&reactor, move || {
        curl(10)
            .arg("--cacert")
            .arg(&ca)
            .args(["--write-out", "\n%{http_version} %{ssl_verify_result}"])
            .arg(format!("https://{address}/"))
            .output()
            .expect("curl runs (CI installs it)")
    });
    assert!(output.status.success(), "curl failed: {output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "secure=true\n1.1 0"
    );
}

/// Both TLS 1.2 and TLS 1.3 handshakes succeed, each pinned from the client side.
#[test]
fn tls_1_2_and_1_3_are_both_accepted() {
    let reactor = new_reactor();
    let server = secure_site("versions", &reactor);
    let (ca, address) = (server.pki.ca.clone(), server.address);
    let output = beside(&reactor, move || {
        let mut seen = Vec::new();
        for pin in [
            ["--tlsv1.2", "--tls-max", "1.2"],
            ["--tlsv1.3", "--tls-max", "1.3"],
        ] {
            let output = curl(10)
                .arg("--cacert")
                .arg(&ca)
                .args(pin)
                .args(["--write-out", " %{ssl_verify_result}", "--verbose"])
                .arg(format!("https://{address}/"))
                .output()
                .expect("curl runs (CI installs it)");
            seen.push(output);
        }
        seen
    });
    for (output, version) in output.iter().zip(["TLSv1.2", "TLSv1.3"]) {
        assert!(output.status.success(), "curl failed: {output:?}");
        assert_eq!(String::from_utf8_lossy(&output.stdout), "secure=true 0");
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(
            log.contains(&format!("SSL connection using {version}")),
            "{log}"
        );
    }
}

const SNI_CLIENT: &str = r#"
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
context = ssl.create_default_context(cafile=ca)
context.check_hostname = False
context.set_alpn_protocols(["h2", "http/1.1"])
for name in ["alpha.test", "BETA.test", "unknown.test", None]:
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            subject = dict(field[0] for field in tls.getpeercert()["subject"])
            print(name, subject["commonName"], tls.selected_alpn_protocol())
"#;

/// Python's `ssl` gets the certificate named by its SNI (in any case), DEFAULT.pem for an
/// unknown name and for no name at all, and http/1.1 when the server offers only that.
#[test]
fn python_sni_picks_the_certificate_by_name() {
    let pki = Pki::new("sni");
    let certs = pki.dir.join("certs");
    fs::create_dir(&certs).unwrap();
    pki.issue_at(
        &certs.join("alpha.test.pem"),
        &["alpha.test"],
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );
    pki.issue_at(
        &certs.join("beta.test.pem"),
        &["beta.test"],
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );
    pki.issue_at(
        &certs.join("DEFAULT.pem"),
        &["default.test"],
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    );
    let reactor = new_reactor();
    let site = Site::new(reactor.clock().clone(), Rc::new(Secure));
    let description = format!("txsni:{}:tcp:0:interface=127.0.0.1", quoted(&certs));
    let (_listening, address) = serve(&reactor, &description, &TlsOptions::http1_only(), site);
    let ca = pki.ca.clone();
    let output = beside(&reactor, move || {
        Command::new("python3")
            .args(["-c", SNI_CLIENT, &address.port().to_string()])
            .arg(&ca)
            .output()
            .expect("python3 runs")
    });
    assert!(output.status.success(), "python failed: {output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "alpha.test alpha.test http/1.1\n\
         BETA.test beta.test http/1.1\n\
         unknown.test default.test http/1.1\n\
         None default.test http/1.1\n"
    );
}
