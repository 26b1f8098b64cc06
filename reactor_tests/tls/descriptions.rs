//! The `ssl:`, `sni:`/`txsni:` and `tls:` description strings.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use torsion::endpoints::{
    ClientEndpoint, EndpointErrorKind, ServerEndpoint, parse_client, parse_server,
};

/// `ssl:` takes Twisted's parameters; certKey defaults to privateKey, which defaults to
/// server.pem, and the canonical form prints only what differs.
#[test]
fn ssl_parameters_and_defaults() {
    let endpoint = parse_server("ssl:443").unwrap();
    assert_eq!(
        endpoint,
        ServerEndpoint::Ssl {
            port: 443,
            interface: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            backlog: 50,
            private_key: PathBuf::from("server.pem"),
            cert_key: PathBuf::from("server.pem"),
            extra_cert_chain: None,
            ca_certs: None,
        }
    );
    assert_eq!(endpoint.to_string(), "ssl:443");
    let full = "ssl:8443:privateKey=/k\\:ey.pem:certKey=cert.pem:interface=127.0.0.1:backlog=5:\
                extraCertChain=chain.pem:caCerts=clients";
    let endpoint = parse_server(full).unwrap();
    let ServerEndpoint::Ssl {
        private_key,
        cert_key,
        ca_certs,
        ..
    } = &endpoint
    else {
        panic!("not ssl: {endpoint:?}");
    };
    assert_eq!(private_key, &PathBuf::from("/k:ey.pem"));
    assert_eq!(cert_key, &PathBuf::from("cert.pem"));
    assert_eq!(ca_certs.as_deref(), Some(std::path::Path::new("clients")));
    assert_eq!(parse_server(&endpoint.to_string()).unwrap(), endpoint);
    assert_eq!(
        parse_server("ssl:443:key.pem").unwrap().to_string(),
        "ssl:443:privateKey=key.pem"
    );
}

/// `sni:` and `txsni:` wrap an inner endpoint, print back as `sni:`, and refuse TLS inside TLS.
#[test]
fn sni_wraps_an_inner_endpoint() {
    let endpoint = parse_server("txsni:/etc/certs:tcp:443:interface=127.0.0.1").unwrap();
    let ServerEndpoint::Sni { cert_dir, inner } = &endpoint else {
        panic!("not sni: {endpoint:?}");
    };
    assert_eq!(cert_dir, &PathBuf::from("/etc/certs"));
    assert_eq!(
        **inner,
        parse_server("tcp:443:interface=127.0.0.1").unwrap()
    );
    assert_eq!(
        endpoint.to_string(),
        "sni:/etc/certs:tcp:443:interface=127.0.0.1"
    );
    assert_eq!(parse_server(&endpoint.to_string()).unwrap(), endpoint);
    let escaped = parse_server(r"sni:C\:/certs:unix:/run/s.sock").unwrap();
    assert_eq!(parse_server(&escaped.to_string()).unwrap(), escaped);

    let nested = parse_server("sni:certs:ssl:443").unwrap_err();
    assert_eq!(nested.kind(), EndpointErrorKind::InvalidValue);
    let inner_error = parse_server("sni:certs:tcp:80x").unwrap_err();
    assert_eq!(inner_error.kind(), EndpointErrorKind::InvalidValue);
    assert!(
        inner_error
            .to_string()
            .contains("inner endpoint \"tcp:80x\""),
        "{inner_error}"
    );
    assert_eq!(
        parse_server("sni:certs").unwrap_err().kind(),
        EndpointErrorKind::MissingParameter
    );
}

/// `tls:` is a client type with trust roots (also `trustRoots=`) and a client certificate.
#[test]
fn tls_client_parameters() {
    let endpoint =
        parse_client("tls:example.com:443:trustRoots=ca.pem:certificate=me.pem").unwrap();
    assert_eq!(
        endpoint,
        ClientEndpoint::Tls {
            host: "example.com".into(),
            port: 443,
            timeout: Duration::from_secs(30),
            bind_address: None,
            ca_certs: Some(PathBuf::from("ca.pem")),
            certificate: Some(PathBuf::from("me.pem")),
            private_key: None,
        }
    );
    assert_eq!(
        endpoint.to_string(),
        "tls:example.com:443:caCerts=ca.pem:certificate=me.pem"
    );
    assert_eq!(parse_client(&endpoint.to_string()).unwrap(), endpoint);
    let lonely_key = parse_client("tls:h:1:privateKey=k.pem").unwrap_err();
    assert_eq!(lonely_key.kind(), EndpointErrorKind::MissingParameter);
    assert_eq!(lonely_key.field(), Some("certificate"));
}
