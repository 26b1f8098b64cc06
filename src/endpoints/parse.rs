//! The pure parser: text in, validated endpoint or one-line error out.
//!
//! Parsing happens in two steps. [`tokenize`] splits a description into its
//! type, positional values and `key=value` values without knowing any type.
//! Then the type's parse function binds those values to its parameters
//! (see `arguments.rs`) and validates each one. Supporting another type means
//! writing one such function and adding it to [`SERVER_TYPES`] or
//! [`CLIENT_TYPES`].
//!
//! Tested by: reactor_tests/endpoint_strings.rs

use std::path::PathBuf;
use std::str::FromStr;

use super::arguments::{
    Arguments, Parameter, Rejection, Signature, backlog, bind, connecting_port, flag, index,
    ip_address, ipv6_address, listening_port, non_empty, seconds, socket_path, unix_mode,
};
use super::endpoint::{
    ClientEndpoint, DEFAULT_BACKLOG, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PRIVATE_KEY,
    DEFAULT_TCP_INTERFACE, DEFAULT_TCP6_INTERFACE, DEFAULT_UNIX_MODE, ServerEndpoint,
    SystemdDomain, SystemdSelector,
};
use super::error::{EndpointError, EndpointErrorKind, quoted};

/// A description split into fields, before any type interprets it.
///
/// Escapes are already resolved: `tcp:\:\:1:80` has the positional values
/// `::1` and `80`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    text: String,
    endpoint_type: String,
    positional: Vec<String>,
    keywords: Vec<(String, String)>,
}

impl Description {
    /// The whole description, exactly as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The first field, the endpoint type, as written (compare it without
    /// regard to ASCII case).
    pub fn endpoint_type(&self) -> &str {
        &self.endpoint_type
    }

    /// The fields after the type that contain no unescaped `=`, in order.
    pub fn positional(&self) -> &[String] {
        &self.positional
    }

    /// The `key=value` fields, in order, repeats included.
    pub fn keywords(&self) -> &[(String, String)] {
        &self.keywords
    }
}

/// A field being read: the key once an unescaped `=` has been seen, and the
/// text read so far.
#[derive(Default)]
struct Field {
    key: Option<String>,
    text: String,
}

/// Splits a description into its type, positional values and keyword values.
///
/// Fields are separated by unescaped `:`. The first unescaped `=` in a field
/// makes it `key=value`; later `=` belong to the value. `\` makes the next
/// character literal. The first field must be the (positional) type.
///
/// # Errors
///
/// [`EndpointErrorKind::Empty`] for `""`, [`EndpointErrorKind::TrailingBackslash`]
/// and [`EndpointErrorKind::MissingType`] when the first field is `key=value`.
pub fn tokenize(text: &str) -> Result<Description, EndpointError> {
    let error = |kind, detail: &str| EndpointError::new(kind, text, None, detail.to_owned());
    if text.is_empty() {
        return Err(error(EndpointErrorKind::Empty, "the description is empty"));
    }
    let mut fields = Vec::new();
    let mut field = Field::default();
    let mut characters = text.chars();
    while let Some(character) = characters.next() {
        match character {
            '\\' => match characters.next() {
                Some(escaped) => field.text.push(escaped),
                None => {
                    return Err(error(
                        EndpointErrorKind::TrailingBackslash,
                        "trailing backslash escapes nothing",
                    ));
                }
            },
            ':' => fields.push(std::mem::take(&mut field)),
            '=' if field.key.is_none() => field.key = Some(std::mem::take(&mut field.text)),
            _ => field.text.push(character),
        }
    }
    fields.push(field);
    describe(text, fields)
}

fn describe(text: &str, fields: Vec<Field>) -> Result<Description, EndpointError> {
    let mut fields = fields.into_iter();
    let endpoint_type = match fields.next() {
        Some(Field { key: None, text }) => text,
        Some(Field { key: Some(key), .. }) => {
            let detail = format!(
                "the first field must be the endpoint type, not the parameter {}",
                quoted(&key)
            );
            return Err(EndpointError::new(
                EndpointErrorKind::MissingType,
                text,
                None,
                detail,
            ));
        }
        None => String::new(),
    };
    let mut description = Description {
        text: text.to_owned(),
        endpoint_type,
        positional: Vec::new(),
        keywords: Vec::new(),
    };
    for field in fields {
        match field.key {
            Some(key) => description.keywords.push((key, field.text)),
            None => description.positional.push(field.text),
        }
    }
    Ok(description)
}

/// A function turning a tokenized description of one type into an endpoint.
pub type TypeParser<T> = fn(&Description) -> Result<T, EndpointError>;

/// The server endpoint types, by lower-case name, with their parsers.
pub const SERVER_TYPES: &[(&str, TypeParser<ServerEndpoint>)] = &[
    ("tcp", parse_tcp_server),
    ("tcp6", parse_tcp6_server),
    ("unix", parse_unix_server),
    ("systemd", parse_systemd_server),
    ("ssl", parse_ssl_server),
    ("sni", parse_sni_server),
    ("txsni", parse_sni_server),
];

/// The client endpoint types, by lower-case name, with their parsers.
pub const CLIENT_TYPES: &[(&str, TypeParser<ClientEndpoint>)] = &[
    ("tcp", parse_tcp_client),
    ("unix", parse_unix_client),
    ("tls", parse_tls_client),
];

/// Parses a server (listening) endpoint description such as `tcp:8080`.
///
/// # Errors
///
/// Any [`EndpointErrorKind`]: the description does not tokenize, names an
/// unknown type, or its values do not fit the type's parameters.
pub fn parse_server(text: &str) -> Result<ServerEndpoint, EndpointError> {
    dispatch(text, SERVER_TYPES)
}

/// Parses a client (connecting) endpoint description such as
/// `tcp:example.com:80`.
///
/// # Errors
///
/// Any [`EndpointErrorKind`]: the description does not tokenize, names an
/// unknown type, or its values do not fit the type's parameters.
pub fn parse_client(text: &str) -> Result<ClientEndpoint, EndpointError> {
    dispatch(text, CLIENT_TYPES)
}

fn dispatch<T>(text: &str, types: &[(&str, TypeParser<T>)]) -> Result<T, EndpointError> {
    let description = tokenize(text)?;
    let wanted = description.endpoint_type();
    match types
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
    {
        Some((_, parser)) => parser(&description),
        None => {
            let known: Vec<&str> = types.iter().map(|(name, _)| *name).collect();
            let detail = format!(
                "unknown endpoint type {} (known: {})",
                quoted(wanted),
                known.join(", ")
            );
            Err(EndpointError::new(
                EndpointErrorKind::UnknownType,
                text,
                None,
                detail,
            ))
        }
    }
}

impl FromStr for ServerEndpoint {
    type Err = EndpointError;

    /// Same as [`parse_server`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_server(text)
    }
}

impl FromStr for ClientEndpoint {
    type Err = EndpointError;

    /// Same as [`parse_client`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_client(text)
    }
}

const TCP_SERVER_PARAMETERS: &[Parameter] = &[
    Parameter::named("port"),
    Parameter::named("interface"),
    Parameter::named("backlog"),
];

static TCP_SERVER: Signature = Signature {
    type_name: "tcp",
    parameters: TCP_SERVER_PARAMETERS,
    max_positional: 3,
};

static TCP6_SERVER: Signature = Signature {
    type_name: "tcp6",
    parameters: TCP_SERVER_PARAMETERS,
    max_positional: 3,
};

static UNIX_SERVER: Signature = Signature {
    type_name: "unix",
    parameters: &[
        Parameter::with_aliases("address", &["path"]),
        Parameter::named("mode"),
        Parameter::named("backlog"),
        Parameter::named("lockfile"),
    ],
    max_positional: 4,
};

static SYSTEMD_SERVER: Signature = Signature {
    type_name: "systemd",
    parameters: &[
        Parameter::named("domain"),
        Parameter::named("index"),
        Parameter::named("name"),
    ],
    max_positional: 3,
};

static TCP_CLIENT: Signature = Signature {
    type_name: "tcp",
    parameters: &[
        Parameter::named("host"),
        Parameter::named("port"),
        Parameter::named("timeout"),
        Parameter::named("bindAddress"),
    ],
    max_positional: 2,
};

static UNIX_CLIENT: Signature = Signature {
    type_name: "unix",
    parameters: &[
        Parameter::named("path"),
        Parameter::named("timeout"),
        Parameter::with_aliases("lockfile", &["checkPID"]),
    ],
    max_positional: 1,
};

/// `tcp:PORT[:interface=ADDR][:backlog=N]`; an empty interface means the default.
fn parse_tcp_server(description: &Description) -> Result<ServerEndpoint, EndpointError> {
    let bound = bind(description, &TCP_SERVER)?;
    let (port, interface, backlog) = tcp_listening(&bound, ip_address, DEFAULT_TCP_INTERFACE)?;
    Ok(ServerEndpoint::Tcp {
        port,
        interface,
        backlog,
    })
}

/// The `port`, `interface` (read by `address`; empty or absent means `default`) and `backlog`
/// of a TCP listener.
fn tcp_listening<A>(
    bound: &Arguments<'_>,
    address: fn(&str) -> Result<A, Rejection>,
    default: A,
) -> Result<(u16, A, u32), EndpointError> {
    let port = bound.required("port", listening_port)?;
    let interface = match bound.text("interface") {
        Some("") => None,
        _ => bound.optional("interface", address)?,
    };
    let backlog = bound.or_default("backlog", DEFAULT_BACKLOG, backlog)?;
    Ok((port, interface.unwrap_or(default), backlog))
}

/// `tcp6:PORT[:interface=ADDR][:backlog=N]`; an empty interface means the default.
fn parse_tcp6_server(description: &Description) -> Result<ServerEndpoint, EndpointError> {
    let bound = bind(description, &TCP6_SERVER)?;
    let (port, interface, backlog) = tcp_listening(&bound, ipv6_address, DEFAULT_TCP6_INTERFACE)?;
    Ok(ServerEndpoint::Tcp6 {
        port,
        interface,
        backlog,
    })
}

/// `unix:PATH[:mode=OCTAL][:backlog=N][:lockfile=0|1]`.
fn parse_unix_server(description: &Description) -> Result<ServerEndpoint, EndpointError> {
    let bound = bind(description, &UNIX_SERVER)?;
    Ok(ServerEndpoint::Unix {
        path: bound.required("address", socket_path)?,
        mode: bound.or_default("mode", DEFAULT_UNIX_MODE, unix_mode)?,
        backlog: bound.or_default("backlog", DEFAULT_BACKLOG, backlog)?,
        lockfile: bound.or_default("lockfile", true, flag)?,
    })
}

/// `systemd:domain=INET|INET6|UNIX` with exactly one of `index=N`, `name=FDNAME`.
fn parse_systemd_server(description: &Description) -> Result<ServerEndpoint, EndpointError> {
    let bound = bind(description, &SYSTEMD_SERVER)?;
    let domain = bound.required("domain", systemd_domain)?;
    let by_index = bound.optional("index", index)?;
    let by_name = bound.optional("name", non_empty)?;
    let selector = match (by_index, by_name) {
        (Some(position), None) => SystemdSelector::Index(position),
        (None, Some(name)) => SystemdSelector::Name(name),
        (Some(_), Some(_)) => return Err(index_and_name(&bound)),
        (None, None) => {
            let detail =
                "missing parameter \"index\" or \"name\" for systemd (give exactly one)".to_owned();
            return Err(bound.error(EndpointErrorKind::MissingParameter, Some("index"), detail));
        }
    };
    Ok(ServerEndpoint::Systemd { domain, selector })
}

fn systemd_domain(text: &str) -> Result<SystemdDomain, Rejection> {
    SystemdDomain::from_name(text)
        .ok_or_else(|| Rejection::invalid("is not one of INET, INET6, UNIX"))
}

fn index_and_name(bound: &Arguments<'_>) -> EndpointError {
    let detail =
        "parameters \"index\" and \"name\" exclude each other for systemd (give exactly one)"
            .to_owned();
    bound.error(
        EndpointErrorKind::ConflictingParameters,
        Some("name"),
        detail,
    )
}

/// `tcp:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDR]`.
fn parse_tcp_client(description: &Description) -> Result<ClientEndpoint, EndpointError> {
    let bound = bind(description, &TCP_CLIENT)?;
    Ok(ClientEndpoint::Tcp {
        host: bound.required("host", non_empty)?,
        port: bound.required("port", connecting_port)?,
        timeout: bound.or_default("timeout", DEFAULT_CONNECT_TIMEOUT, seconds)?,
        bind_address: bound.optional("bindAddress", ip_address)?,
    })
}

/// `unix:PATH[:timeout=SECONDS][:lockfile=0|1]` (`checkPID` is `lockfile`).
fn parse_unix_client(description: &Description) -> Result<ClientEndpoint, EndpointError> {
    let bound = bind(description, &UNIX_CLIENT)?;
    Ok(ClientEndpoint::Unix {
        path: bound.required("path", socket_path)?,
        timeout: bound.or_default("timeout", DEFAULT_CONNECT_TIMEOUT, seconds)?,
        lockfile: bound.or_default("lockfile", false, flag)?,
    })
}

static SSL_SERVER: Signature = Signature {
    type_name: "ssl",
    parameters: &[
        Parameter::named("port"),
        Parameter::named("privateKey"),
        Parameter::named("certKey"),
        Parameter::named("interface"),
        Parameter::named("backlog"),
        Parameter::named("extraCertChain"),
        Parameter::named("caCerts"),
    ],
    max_positional: 3,
};

static TLS_CLIENT: Signature = Signature {
    type_name: "tls",
    parameters: &[
        Parameter::named("host"),
        Parameter::named("port"),
        Parameter::named("timeout"),
        Parameter::named("bindAddress"),
        Parameter::with_aliases("caCerts", &["trustRoots"]),
        Parameter::named("certificate"),
        Parameter::named("privateKey"),
    ],
    max_positional: 2,
};

/// A file or directory name: any text except the empty string.
fn file_path(text: &str) -> Result<PathBuf, Rejection> {
    non_empty(text).map(PathBuf::from)
}

/// `ssl:PORT[:privateKey=KEY][:certKey=CERT][:interface=ADDR][:backlog=N]
/// [:extraCertChain=PEM][:caCerts=PEM_OR_DIR]`; certKey defaults to privateKey, which defaults
/// to `server.pem` (one file holding key and certificate).
fn parse_ssl_server(description: &Description) -> Result<ServerEndpoint, EndpointError> {
    let bound = bind(description, &SSL_SERVER)?;
    let (port, interface, backlog) = tcp_listening(&bound, ip_address, DEFAULT_TCP_INTERFACE)?;
    let private_key =
        bound.or_default("privateKey", PathBuf::from(DEFAULT_PRIVATE_KEY), file_path)?;
    Ok(ServerEndpoint::Ssl {
        port,
        interface,
        backlog,
        cert_key: bound.or_default("certKey", private_key.clone(), file_path)?,
        private_key,
        extra_cert_chain: bound.optional("extraCertChain", file_path)?,
        ca_certs: bound.optional("caCerts", file_path)?,
    })
}

/// Splits `text` after its first two unescaped colons: the type, the (unescaped) second field,
/// and the rest exactly as written.
fn split_two_fields(text: &str) -> Option<(String, &str)> {
    let mut colons = 0;
    let mut field = String::new();
    let mut characters = text.char_indices();
    while let Some((at, character)) = characters.next() {
        match character {
            '\\' => {
                let (_, escaped) = characters.next()?;
                if colons == 1 {
                    field.push(escaped);
                }
            }
            ':' if colons == 1 => return Some((field, &text[at + 1..])),
            ':' => colons += 1,
            _ if colons == 1 => field.push(character),
            _ => {}
        }
    }
    None
}

/// `sni:CERTDIR:INNER` (also `txsni:`): TLS on the inner endpoint (`tcp:443`, `unix:...`),
/// with the certificate chosen by the name the client asks for from `CERTDIR/NAME.pem`.
fn parse_sni_server(description: &Description) -> Result<ServerEndpoint, EndpointError> {
    let text = description.text();
    let type_name = description.endpoint_type().to_ascii_lowercase();
    let invalid = |field: &str, detail: String| {
        EndpointError::new(EndpointErrorKind::InvalidValue, text, Some(field), detail)
    };
    let Some((cert_dir, inner_text)) = split_two_fields(text) else {
        let detail = format!(
            "{type_name} needs a certificate directory and an inner endpoint \
             ({type_name}:CERTDIR:tcp:443)"
        );
        return Err(EndpointError::new(
            EndpointErrorKind::MissingParameter,
            text,
            Some("endpoint"),
            detail,
        ));
    };
    if cert_dir.is_empty() {
        return Err(invalid(
            "certDir",
            "the certificate directory is empty".to_owned(),
        ));
    }
    let inner = parse_server(inner_text).map_err(|error| {
        EndpointError::new(
            error.kind(),
            text,
            error.field(),
            format!(
                "{} (in the inner endpoint {})",
                error.detail(),
                quoted(inner_text)
            ),
        )
    })?;
    if matches!(
        inner,
        ServerEndpoint::Ssl { .. } | ServerEndpoint::Sni { .. }
    ) {
        let detail = format!(
            "the inner endpoint of {type_name} must be tcp, tcp6, unix or systemd, not {}",
            quoted(inner_text)
        );
        return Err(invalid("endpoint", detail));
    }
    Ok(ServerEndpoint::Sni {
        cert_dir: PathBuf::from(cert_dir),
        inner: Box::new(inner),
    })
}

/// `tls:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDR][:caCerts=PEM_OR_DIR]
/// [:certificate=PEM][:privateKey=PEM]` (`trustRoots=` is `caCerts=`).
fn parse_tls_client(description: &Description) -> Result<ClientEndpoint, EndpointError> {
    let bound = bind(description, &TLS_CLIENT)?;
    let certificate = bound.optional("certificate", file_path)?;
    let private_key = bound.optional("privateKey", file_path)?;
    if private_key.is_some() && certificate.is_none() {
        let detail =
            "parameter \"privateKey\" needs \"certificate\" for tls (the client certificate)"
                .to_owned();
        return Err(bound.error(
            EndpointErrorKind::MissingParameter,
            Some("certificate"),
            detail,
        ));
    }
    Ok(ClientEndpoint::Tls {
        host: bound.required("host", non_empty)?,
        port: bound.required("port", connecting_port)?,
        timeout: bound.or_default("timeout", DEFAULT_CONNECT_TIMEOUT, seconds)?,
        bind_address: bound.optional("bindAddress", ip_address)?,
        ca_certs: bound.optional("caCerts", file_path)?,
        certificate,
        private_key,
    })
}
