//! The error returned for a description string that cannot be used.
//!
//! Every message is one line of the form
//! `bad endpoint "DESCRIPTION": WHAT IS WRONG`, where control characters in
//! the description and in quoted values are shown escaped so that the message
//! never spans lines.
//!
//! Tested by: reactor_tests/endpoint_strings.rs

use std::fmt;

/// What is wrong with an endpoint description.
///
/// Callers match on this to react to a class of mistake; the human-readable
/// explanation lives in the [`EndpointError`] message.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointErrorKind {
    /// The description is the empty string.
    Empty,
    /// The description ends with a `\` that has no character to escape.
    TrailingBackslash,
    /// The first field is a `key=value` pair instead of the endpoint type.
    MissingType,
    /// The first field names no endpoint type this parser knows.
    UnknownType,
    /// A `key=value` field names a parameter the endpoint type does not take.
    UnknownParameter,
    /// A parameter is given twice (by position and by name, or by name twice).
    DuplicateParameter,
    /// More positional fields are given than the endpoint type accepts.
    TooManyArguments,
    /// A parameter without a default is not given.
    MissingParameter,
    /// Two parameters are given that exclude each other.
    ConflictingParameters,
    /// A parameter's value cannot be interpreted (not a number, not an address...).
    InvalidValue,
    /// A unix socket path is longer than the operating system allows.
    PathTooLong,
}

/// A description string that cannot be turned into an endpoint.
///
/// Displays as one line quoting the whole description, naming the bad field
/// and saying why, e.g.
/// `bad endpoint "tcp:80x": port "80x" is not a number from 0 to 65535`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointError {
    kind: EndpointErrorKind,
    description: String,
    field: Option<String>,
    detail: String,
}

impl EndpointError {
    /// Builds an error about `description`, concerning parameter `field`
    /// when there is one, explained by `detail` (the text after the colon).
    pub(crate) fn new(
        kind: EndpointErrorKind,
        description: &str,
        field: Option<&str>,
        detail: String,
    ) -> Self {
        EndpointError {
            kind,
            description: description.to_owned(),
            field: field.map(str::to_owned),
            detail,
        }
    }

    /// The class of mistake, for matching.
    pub fn kind(&self) -> EndpointErrorKind {
        self.kind
    }

    /// The parameter the error concerns, by its canonical name (`"port"`,
    /// `"interface"`...), or the unknown name itself for
    /// [`EndpointErrorKind::UnknownParameter`]; `None` when the error is
    /// about the description as a whole or its type field.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The explanation after the colon.
    pub(crate) fn detail(&self) -> &str {
        &self.detail
    }

    /// The whole description string, exactly as it was given.
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "bad endpoint {}: {}",
            quoted(&self.description),
            self.detail
        )
    }
}

impl std::error::Error for EndpointError {}

/// Wraps `text` in double quotes, escaping control characters and line
/// separators so the result stays on one line; everything else, backslashes included, is shown as is.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        if character.is_control() || matches!(character, '\u{2028}' | '\u{2029}') {
            out.extend(character.escape_default());
        } else {
            out.push(character);
        }
    }
    out.push('"');
    out
}
