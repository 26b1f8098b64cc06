//! Endpoint description strings ("strports"), as Twisted's
//! `serverFromString` and `clientFromString` read them.
//!
//! A description names a place to listen on or to connect to in one short
//! string, e.g. `tcp:8080` or `unix:/run/app.sock:mode=660`. Parsing is
//! pure: no sockets, files or environment are touched.
//!
//! # Grammar
//!
//! * Fields are separated by `:`. The first field is the endpoint type,
//!   compared without regard to ASCII case (`TCP:80` is `tcp:80`).
//! * A field containing `=` is `key=value`; only the first `=` splits, so
//!   `name=a=b` gives `name` the value `a=b`. Other fields are positional.
//! * `\` makes the next character literal: `\:` is a colon inside a value,
//!   `\\` a backslash, `\=` an `=` that does not make the field a keyword.
//!   A `\` at the very end is an error. IPv6 addresses must therefore be
//!   written `\:\:1`.
//! * Positional values fill the type's parameters in order, and every
//!   parameter may also be given by name, as in a Python call: `tcp:8080`
//!   and `tcp:port=8080` are the same. A parameter given twice, an unknown
//!   name and surplus positional values are errors.
//!
//! # Types
//!
//! Servers ([`parse_server`]):
//!
//! * `tcp:PORT[:interface=ADDR][:backlog=N]`: `tcp:8080`,
//!   `tcp:443:interface=127.0.0.1`, `tcp:0:interface=\:\:1:backlog=128`.
//!   The interface defaults to `0.0.0.0`; an IPv6 literal listens on IPv6.
//! * `tcp6:PORT[:interface=ADDR][:backlog=N]`: the interface defaults to `::`.
//! * `unix:PATH[:mode=OCTAL][:backlog=N][:lockfile=0|1]` (the path is also
//!   `address=` or `path=`): `unix:/run/app.sock:mode=660:lockfile=0`.
//! * `systemd:domain=INET|INET6|UNIX:index=N` or `...:name=FDNAME`: a
//!   socket passed by systemd; see [`inherited_descriptors`].
//! * `ssl:PORT[:privateKey=KEY][:certKey=CERT][:interface=ADDR][:backlog=N]`
//!   `[:extraCertChain=PEM][:caCerts=PEM_OR_DIR]`: TLS on a TCP port. The key
//!   file defaults to `server.pem` and the certificate file to the key's, so
//!   one PEM holding both is enough; `caCerts` asks clients for a certificate
//!   issued by one of those authorities.
//! * `sni:CERTDIR:INNER` (also `txsni:`): TLS on any of the above
//!   (`sni:/etc/torsion/certs:tcp:443`), the certificate chosen by the name
//!   the client asks for: `CERTDIR/NAME.pem`, else `CERTDIR/DEFAULT.pem`.
//!
//! Clients ([`parse_client`]):
//!
//! * `tcp:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDR]`:
//!   `tcp:example.com:80`, `tcp:host=\:\:1:port=8080:timeout=0.5`.
//! * `unix:PATH[:timeout=SECONDS][:lockfile=0|1]` (`checkPID=` is accepted
//!   for `lockfile=`): `unix:/run/app.sock:timeout=5`.
//! * `tls:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDR][:caCerts=PEM_OR_DIR]`
//!   `[:certificate=PEM][:privateKey=PEM]`: TLS over TCP, the server's
//!   certificate checked against HOST and the system's trust store (or
//!   `caCerts`, also spelt `trustRoots`); `certificate` is a client
//!   certificate to present.
//!
//! Errors are one line naming the description, the field and the reason:
//! `bad endpoint "tcp:80x": port "80x" is not a number from 0 to 65535`.
//! Endpoints print back as their canonical description, which parses to an
//! equal value; [`quote_string_argument`] escapes an arbitrary value.
//!
//! Tested by: reactor_tests/endpoint_strings.rs

mod arguments;
mod bind;
mod endpoint;
mod error;
mod parse;
mod systemd;

pub use bind::{ListenError, Listening, connect, listen, listen_with_tls};
pub use endpoint::{
    ClientEndpoint, DEFAULT_BACKLOG, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PRIVATE_KEY,
    DEFAULT_TCP_INTERFACE, DEFAULT_TCP6_INTERFACE, DEFAULT_UNIX_MODE, ServerEndpoint,
    SystemdDomain, SystemdSelector, UNIX_PATH_MAX, quote_string_argument,
};
pub use error::{EndpointError, EndpointErrorKind};
pub use parse::{
    CLIENT_TYPES, Description, SERVER_TYPES, TypeParser, parse_client, parse_server, tokenize,
};
pub use systemd::{
    InheritedDescriptor, LISTEN_FDS_START, MAX_LISTEN_FDS, SocketActivationError,
    UNNAMED_DESCRIPTOR, inherited_descriptors,
};
