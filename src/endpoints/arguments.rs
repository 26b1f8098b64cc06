//! Binding a tokenized description's fields to an endpoint type's
//! parameters (with Python call semantics), and interpreting each value.
//!
//! An endpoint type is described by a [`Signature`]: its parameters in
//! positional order. [`bind`] fills them from the description's positional
//! fields first, then from its `key=value` fields, rejecting unknown names,
//! parameters given twice and surplus positional fields. The value parsers
//! at the bottom turn the text of one value into a typed, validated value or
//! a [`Rejection`] saying why not.
//!
//! Tested by: reactor_tests/endpoint_strings.rs

use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use super::endpoint::UNIX_PATH_MAX;
use super::error::{EndpointError, EndpointErrorKind, quoted};
use super::parse::Description;

/// One parameter an endpoint type accepts, with any other names it answers to.
#[derive(Debug)]
pub(crate) struct Parameter {
    /// The canonical name, used in messages and by [`EndpointError::field`].
    pub(crate) name: &'static str,
    /// Other spellings accepted in `key=value` fields.
    pub(crate) aliases: &'static [&'static str],
}

impl Parameter {
    /// A parameter known by one name only.
    pub(crate) const fn named(name: &'static str) -> Self {
        Parameter { name, aliases: &[] }
    }

    /// A parameter that also answers to `aliases`.
    pub(crate) const fn with_aliases(name: &'static str, aliases: &'static [&'static str]) -> Self {
        Parameter { name, aliases }
    }

    fn answers_to(&self, key: &str) -> bool {
        self.name == key || self.aliases.contains(&key)
    }
}

/// The parameters of one endpoint type, in positional order.
#[derive(Debug)]
pub(crate) struct Signature {
    /// The endpoint type as written in canonical descriptions (`"tcp"`).
    pub(crate) type_name: &'static str,
    /// Every parameter, in the order positional fields fill them.
    pub(crate) parameters: &'static [Parameter],
    /// How many leading parameters may be given by position.
    pub(crate) max_positional: usize,
}

impl Signature {
    fn known_names(&self) -> String {
        let names: Vec<&str> = self
            .parameters
            .iter()
            .flat_map(|parameter| {
                std::iter::once(parameter.name).chain(parameter.aliases.iter().copied())
            })
            .collect();
        names.join(", ")
    }

    fn positional_names(&self) -> String {
        let names: Vec<&str> = self
            .parameters
            .iter()
            .take(self.max_positional)
            .map(|parameter| parameter.name)
            .collect();
        names.join(", ")
    }
}

/// A value as given in the description, with the name it was given under.
#[derive(Debug, Clone, Copy)]
struct Given<'d> {
    value: &'d str,
    spelled: &'d str,
}

/// A description's fields bound to one endpoint type's parameters.
#[derive(Debug)]
pub(crate) struct Arguments<'d> {
    description: &'d Description,
    signature: &'static Signature,
    given: Vec<Option<Given<'d>>>,
}

/// Binds `description`'s fields to `signature`'s parameters: positional
/// fields in order, then `key=value` fields by name.
pub(crate) fn bind<'d>(
    description: &'d Description,
    signature: &'static Signature,
) -> Result<Arguments<'d>, EndpointError> {
    let mut arguments = Arguments {
        description,
        signature,
        given: vec![None; signature.parameters.len()],
    };
    arguments.bind_positional()?;
    arguments.bind_keywords()?;
    Ok(arguments)
}

impl<'d> Arguments<'d> {
    fn bind_positional(&mut self) -> Result<(), EndpointError> {
        let positional = self.description.positional();
        if positional.len() > self.signature.max_positional {
            return Err(self.too_many_positional(positional.len()));
        }
        let parameters = self.signature.parameters.iter();
        for ((slot, parameter), value) in self.given.iter_mut().zip(parameters).zip(positional) {
            *slot = Some(Given {
                value,
                spelled: parameter.name,
            });
        }
        Ok(())
    }

    fn bind_keywords(&mut self) -> Result<(), EndpointError> {
        let signature = self.signature;
        for (key, value) in self.description.keywords() {
            let mut parameters = signature.parameters.iter().enumerate();
            let Some((index, parameter)) = parameters.find(|(_, p)| p.answers_to(key)) else {
                return Err(self.unknown_parameter(key));
            };
            match self.given.get_mut(index) {
                Some(slot @ None) => {
                    *slot = Some(Given {
                        value,
                        spelled: key,
                    })
                }
                _ => return Err(self.duplicate_parameter(parameter.name)),
            }
        }
        Ok(())
    }

    fn given(&self, name: &str) -> Option<Given<'d>> {
        let index = self
            .signature
            .parameters
            .iter()
            .position(|p| p.name == name)?;
        self.given.get(index).copied().flatten()
    }

    /// The raw text of parameter `name`, if it was given.
    pub(crate) fn text(&self, name: &str) -> Option<&'d str> {
        self.given(name).map(|given| given.value)
    }

    /// Parameter `name` interpreted by `parse`, or `None` if it was not given.
    pub(crate) fn optional<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, Rejection>,
    ) -> Result<Option<T>, EndpointError> {
        let Some(given) = self.given(name) else {
            return Ok(None);
        };
        match parse(given.value) {
            Ok(value) => Ok(Some(value)),
            Err(rejection) => Err(self.rejected(name, given, rejection)),
        }
    }

    /// Parameter `name` interpreted by `parse`, or `default` if it was not given.
    pub(crate) fn or_default<T>(
        &self,
        name: &str,
        default: T,
        parse: impl Fn(&str) -> Result<T, Rejection>,
    ) -> Result<T, EndpointError> {
        Ok(self.optional(name, parse)?.unwrap_or(default))
    }

    /// Parameter `name` interpreted by `parse`; an error if it was not given.
    pub(crate) fn required<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, Rejection>,
    ) -> Result<T, EndpointError> {
        match self.optional(name, parse)? {
            Some(value) => Ok(value),
            None => Err(self.missing(name)),
        }
    }

    /// An error about this description, concerning parameter `field` if any.
    pub(crate) fn error(
        &self,
        kind: EndpointErrorKind,
        field: Option<&str>,
        detail: String,
    ) -> EndpointError {
        EndpointError::new(kind, self.description.text(), field, detail)
    }

    /// The error for a required parameter that was not given.
    pub(crate) fn missing(&self, name: &str) -> EndpointError {
        let detail = format!(
            "missing parameter \"{name}\" for {} (known: {})",
            self.signature.type_name,
            self.signature.known_names()
        );
        self.error(EndpointErrorKind::MissingParameter, Some(name), detail)
    }

    fn rejected(&self, name: &str, given: Given<'_>, rejection: Rejection) -> EndpointError {
        let detail = format!(
            "{} {} {}",
            given.spelled,
            quoted(given.value),
            rejection.reason
        );
        self.error(rejection.kind, Some(name), detail)
    }

    fn unknown_parameter(&self, key: &str) -> EndpointError {
        let detail = format!(
            "unknown parameter {} for {} (known: {})",
            quoted(key),
            self.signature.type_name,
            self.signature.known_names()
        );
        self.error(EndpointErrorKind::UnknownParameter, Some(key), detail)
    }

    fn duplicate_parameter(&self, name: &str) -> EndpointError {
        let detail = format!(
            "parameter \"{name}\" is given more than once{}",
            self.colon_hint()
        );
        self.error(EndpointErrorKind::DuplicateParameter, Some(name), detail)
    }

    fn too_many_positional(&self, count: usize) -> EndpointError {
        let signature = self.signature;
        let detail = format!(
            "{} takes at most {} positional field{} ({}) but {count} were given{}",
            signature.type_name,
            signature.max_positional,
            plural(signature.max_positional),
            signature.positional_names(),
            self.colon_hint()
        );
        self.error(EndpointErrorKind::TooManyArguments, None, detail)
    }

    /// An empty positional field usually comes from an IPv6 address whose
    /// colons were not escaped; say so when that may be the cause.
    fn colon_hint(&self) -> &'static str {
        if self.description.positional().iter().any(String::is_empty) {
            "; an empty field often means an unescaped colon: write IPv6 addresses as \\:\\:1"
        } else {
            ""
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Why a value's text was refused, and which kind of error that is.
#[derive(Debug)]
pub(crate) struct Rejection {
    kind: EndpointErrorKind,
    reason: String,
}

impl Rejection {
    /// The value cannot be interpreted; `reason` completes `NAME "VALUE" ...`.
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Rejection {
            kind: EndpointErrorKind::InvalidValue,
            reason: reason.into(),
        }
    }
}

/// A run of ASCII digits as a number; `None` for anything else (no sign, no
/// spaces, no underscores) or on overflow.
pub(crate) fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.bytes().try_fold(0u64, |total, digit| {
        total.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

/// A decimal number within `low..=high`.
fn number_in_range(text: &str, low: u64, high: u64) -> Result<u64, Rejection> {
    match parse_decimal(text) {
        Some(number) if (low..=high).contains(&number) => Ok(number),
        _ => Err(Rejection::invalid(format!(
            "is not a number from {low} to {high}"
        ))),
    }
}

/// A port to listen on: 0 (any free port) to 65535.
pub(crate) fn listening_port(text: &str) -> Result<u16, Rejection> {
    let number = number_in_range(text, 0, u64::from(u16::MAX))?;
    u16::try_from(number).map_err(|_| Rejection::invalid("is not a number from 0 to 65535"))
}

/// A port to connect to: 1 to 65535.
pub(crate) fn connecting_port(text: &str) -> Result<u16, Rejection> {
    let number = number_in_range(text, 1, u64::from(u16::MAX))?;
    u16::try_from(number).map_err(|_| Rejection::invalid("is not a number from 1 to 65535"))
}

/// A listen backlog: 0 to the largest `int` `listen(2)` takes.
pub(crate) fn backlog(text: &str) -> Result<u32, Rejection> {
    let high = i32::MAX.unsigned_abs();
    let number = number_in_range(text, 0, u64::from(high))?;
    u32::try_from(number)
        .map_err(|_| Rejection::invalid(format!("is not a number from 0 to {high}")))
}

/// A descriptor index: any non-negative whole number.
pub(crate) fn index(text: &str) -> Result<usize, Rejection> {
    parse_decimal(text)
        .and_then(|number| usize::try_from(number).ok())
        .ok_or_else(|| Rejection::invalid("is not a whole number from 0 up"))
}

/// Permission bits in octal, `0` to `777`, with an optional `0o` prefix.
pub(crate) fn unix_mode(text: &str) -> Result<u32, Rejection> {
    let reject = || Rejection::invalid("is not an octal mode from 0 to 777");
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| (b'0'..=b'7').contains(&byte)) {
        return Err(reject());
    }
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(reject()),
    }
}

/// A boolean written `0` or `1`.
pub(crate) fn flag(text: &str) -> Result<bool, Rejection> {
    match text {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => Err(Rejection::invalid("is not 0 or 1")),
    }
}

/// An IPv4 or IPv6 address literal.
pub(crate) fn ip_address(text: &str) -> Result<IpAddr, Rejection> {
    text.parse()
        .map_err(|_| Rejection::invalid("is not an IPv4 or IPv6 address"))
}

/// An IPv6 address literal; an IPv4 one is refused with a pointer to `tcp`.
pub(crate) fn ipv6_address(text: &str) -> Result<Ipv6Addr, Rejection> {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V6(address)) => Ok(address),
        Ok(IpAddr::V4(_)) => Err(Rejection::invalid(
            "is an IPv4 address; tcp6 needs IPv6 (use tcp for IPv4)",
        )),
        Err(_) => Err(Rejection::invalid("is not an IPv6 address")),
    }
}

/// A positive number of seconds: digits with an optional fraction (`30`,
/// `0.5`, `.25`). Precision is one nanosecond; further digits are ignored.
pub(crate) fn seconds(text: &str) -> Result<Duration, Rejection> {
    let reject = || Rejection::invalid("is not a number of seconds greater than 0");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(reject());
    }
    if !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(reject());
    }
    let seconds = if whole.is_empty() {
        Some(0)
    } else {
        parse_decimal(whole)
    };
    let Some(seconds) = seconds else {
        return Err(reject());
    };
    let nanoseconds = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |total, digit| total * 10 + u32::from(digit - b'0'));
    let duration = Duration::new(seconds, nanoseconds);
    if duration.is_zero() {
        Err(reject())
    } else {
        Ok(duration)
    }
}

/// A unix socket path: not empty, no NUL byte, at most [`UNIX_PATH_MAX`] bytes.
pub(crate) fn socket_path(text: &str) -> Result<PathBuf, Rejection> {
    if text.is_empty() {
        return Err(Rejection::invalid("is empty"));
    }
    if text.contains('\0') {
        return Err(Rejection::invalid("contains a NUL byte"));
    }
    if text.len() > UNIX_PATH_MAX {
        return Err(Rejection {
            kind: EndpointErrorKind::PathTooLong,
            reason: format!(
                "is {} bytes long; unix socket paths may be at most {UNIX_PATH_MAX} bytes",
                text.len()
            ),
        });
    }
    Ok(PathBuf::from(text))
}

/// Any text except the empty string.
pub(crate) fn non_empty(text: &str) -> Result<String, Rejection> {
    if text.is_empty() {
        Err(Rejection::invalid("is empty"))
    } else {
        Ok(text.to_owned())
    }
}
