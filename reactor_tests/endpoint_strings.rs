//! Endpoint description strings: tokenizing, per-type parsing, canonical
//! display, errors and the systemd socket-activation environment.

mod clients;
mod display_and_errors;
mod random_input;
mod servers;
mod systemd_env;

use torsion::endpoints::{
    ClientEndpoint, EndpointError, EndpointErrorKind, ServerEndpoint, parse_client, parse_server,
    tokenize,
};

/// Parses a server description that must be valid.
fn server(text: &str) -> ServerEndpoint {
    parse_server(text).unwrap_or_else(|error| panic!("{text:?} should parse: {error}"))
}

/// Parses a client description that must be valid.
fn client(text: &str) -> ClientEndpoint {
    parse_client(text).unwrap_or_else(|error| panic!("{text:?} should parse: {error}"))
}

/// The error for a server description that must be invalid.
fn server_error(text: &str) -> EndpointError {
    match parse_server(text) {
        Ok(endpoint) => panic!("{text:?} should be refused, parsed as {endpoint:?}"),
        Err(error) => error,
    }
}

/// The error for a client description that must be invalid.
fn client_error(text: &str) -> EndpointError {
    match parse_client(text) {
        Ok(endpoint) => panic!("{text:?} should be refused, parsed as {endpoint:?}"),
        Err(error) => error,
    }
}

/// Checks an error's kind and field, showing its message on failure.
fn assert_error(error: &EndpointError, kind: EndpointErrorKind, field: Option<&str>) {
    assert_eq!(error.kind(), kind, "{error}");
    assert_eq!(error.field(), field, "{error}");
}

/// The positional values of a description that must tokenize.
fn positional(text: &str) -> Vec<String> {
    match tokenize(text) {
        Ok(description) => description.positional().to_vec(),
        Err(error) => panic!("{text:?} should tokenize: {error}"),
    }
}

/// The keyword values of a description that must tokenize.
fn keywords(text: &str) -> Vec<(String, String)> {
    match tokenize(text) {
        Ok(description) => description.keywords().to_vec(),
        Err(error) => panic!("{text:?} should tokenize: {error}"),
    }
}

/// Owned (key, value) pairs for comparing with [`keywords`].
fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// Tokenizing separates the type, the positional values and the keyword values, in order.
#[test]
fn tokenize_separates_type_positional_and_keywords() {
    let description =
        tokenize("tcp:8080:interface=127.0.0.1:backlog=5").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(description.endpoint_type(), "tcp");
    assert_eq!(description.positional(), ["8080"]);
    assert_eq!(
        description.keywords(),
        pairs(&[("interface", "127.0.0.1"), ("backlog", "5")]).as_slice()
    );
    assert_eq!(description.text(), "tcp:8080:interface=127.0.0.1:backlog=5");
}

/// Positional values keep their order even when keyword fields come between them.
#[test]
fn tokenize_keeps_positional_order_around_keywords() {
    assert_eq!(positional("x:a:k=v:b:c"), ["a", "b", "c"]);
    assert_eq!(keywords("x:a:k=v:b:c"), pairs(&[("k", "v")]));
}

/// Only the first `=` of a field splits it; later ones belong to the value.
#[test]
fn tokenize_splits_only_on_the_first_equals() {
    assert_eq!(keywords("x:name=a=b=c"), pairs(&[("name", "a=b=c")]));
    assert_eq!(keywords("x:k=="), pairs(&[("k", "=")]));
}

/// A backslash makes the following colon part of the value.
#[test]
fn tokenize_escaped_colon_is_literal() {
    assert_eq!(positional(r"x:\:\:1:80"), ["::1", "80"]);
    assert_eq!(keywords(r"x:host=\:\:1"), pairs(&[("host", "::1")]));
}

/// A doubled backslash is one literal backslash.
#[test]
fn tokenize_escaped_backslash_is_literal() {
    assert_eq!(positional(r"x:C\\dir:b"), [r"C\dir", "b"]);
    assert_eq!(positional(r"x:\\:b"), [r"\", "b"]);
}

/// An escaped `=` is part of the value and does not make the field a keyword.
#[test]
fn tokenize_escaped_equals_keeps_field_positional() {
    assert_eq!(positional(r"x:a\=b"), ["a=b"]);
    assert!(keywords(r"x:a\=b").is_empty());
    assert_eq!(keywords(r"x:a\=b=c"), pairs(&[("a=b", "c")]));
}

/// A backslash before an ordinary character just yields that character.
#[test]
fn tokenize_escaped_ordinary_character_is_itself() {
    assert_eq!(positional(r"x:\a\b\c"), ["abc"]);
    assert_eq!(positional("x:\\é"), ["é"]);
}

/// A backslash at the very end of the description is an error.
#[test]
fn tokenize_trailing_backslash_is_an_error() {
    let error = server_error(r"unix:/tmp/s\");
    assert_error(&error, EndpointErrorKind::TrailingBackslash, None);
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "unix:/tmp/s\": trailing backslash escapes nothing"#
    );
    assert!(tokenize(r"x:a\\\").is_err());
}

/// An escaped backslash at the end is not a trailing backslash.
#[test]
fn tokenize_escaped_backslash_at_end_is_fine() {
    assert_eq!(positional(r"x:a\\"), [r"a\"]);
}

/// Empty fields are kept as empty values, not skipped.
#[test]
fn tokenize_keeps_empty_fields() {
    assert_eq!(positional("x::"), ["", ""]);
    assert_eq!(positional("x:"), [""]);
    assert_eq!(keywords("x:k="), pairs(&[("k", "")]));
    assert_eq!(keywords("x:=v"), pairs(&[("", "v")]));
}

/// A description of only a type has no values.
#[test]
fn tokenize_type_alone_has_no_values() {
    assert!(positional("tcp").is_empty());
    assert!(keywords("tcp").is_empty());
}

/// Repeated keywords are all kept, in order, for the type to judge.
#[test]
fn tokenize_keeps_repeated_keywords() {
    assert_eq!(
        keywords("x:a=1:b=2:a=3"),
        pairs(&[("a", "1"), ("b", "2"), ("a", "3")])
    );
}

/// The type is reported as written, case included.
#[test]
fn tokenize_keeps_type_case() {
    let description = tokenize("TcP:80").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(description.endpoint_type(), "TcP");
}

/// The empty string is refused as an empty description.
#[test]
fn tokenize_empty_description_is_an_error() {
    let error = server_error("");
    assert_error(&error, EndpointErrorKind::Empty, None);
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "": the description is empty"#
    );
}

/// A first field written as `key=value` is refused: the type must come first.
#[test]
fn tokenize_keyword_first_field_is_an_error() {
    let error = server_error("port=80:tcp");
    assert_error(&error, EndpointErrorKind::MissingType, None);
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "port=80:tcp": the first field must be the endpoint type, not the parameter "port""#
    );
}

/// Non-ASCII text passes through tokenizing unchanged.
#[test]
fn tokenize_passes_unicode_through() {
    assert_eq!(positional("x:/tmp/ünïcødé☃:b"), ["/tmp/ünïcødé☃", "b"]);
}

/// The type field is matched without regard to ASCII case, for servers and clients.
#[test]
fn type_is_case_insensitive() {
    assert_eq!(server("TCP:80"), server("tcp:80"));
    assert_eq!(server("Tcp6:80"), server("tcp6:80"));
    assert_eq!(server("UNIX:/tmp/s"), server("unix:/tmp/s"));
    assert_eq!(
        server("SyStEmD:domain=INET:index=0"),
        server("systemd:domain=INET:index=0")
    );
    assert_eq!(client("TCP:h:80"), client("tcp:h:80"));
    assert_eq!(client("Unix:/tmp/s"), client("unix:/tmp/s"));
}

/// An unknown server type is refused with the list of known server types.
#[test]
fn unknown_server_type_lists_known_types() {
    let error = server_error("quic:443");
    assert_error(&error, EndpointErrorKind::UnknownType, None);
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "quic:443": unknown endpoint type "quic" (known: tcp, tcp6, unix, systemd, ssl, sni, txsni)"#
    );
}

/// An unknown client type is refused with the list of known client types.
#[test]
fn unknown_client_type_lists_known_types() {
    let error = client_error("tcp6:h:80");
    assert_error(&error, EndpointErrorKind::UnknownType, None);
    assert_eq!(
        error.to_string(),
        r#"bad endpoint "tcp6:h:80": unknown endpoint type "tcp6" (known: tcp, unix, tls)"#
    );
    assert_eq!(
        client_error("systemd:domain=INET:index=0").kind(),
        EndpointErrorKind::UnknownType
    );
}

/// An empty type field is an unknown type, not a crash.
#[test]
fn empty_type_is_unknown() {
    let error = server_error(":80");
    assert_error(&error, EndpointErrorKind::UnknownType, None);
    assert!(
        error.to_string().contains(r#"unknown endpoint type """#),
        "{error}"
    );
}

/// `str::parse` gives the same result as the parse functions.
#[test]
fn from_str_matches_parse_functions() {
    assert_eq!(
        "tcp:80".parse::<ServerEndpoint>().ok(),
        Some(server("tcp:80"))
    );
    assert_eq!(
        "unix:/s".parse::<ClientEndpoint>().ok(),
        Some(client("unix:/s"))
    );
    assert!("nope:1".parse::<ServerEndpoint>().is_err());
}
