//! HTTP status codes and their canonical reason phrases (RFC 9110 §15).
//!
//! Tested by: src/http/status.rs (unit tests)

use std::fmt;

/// A three-digit HTTP status code in the range 100–999.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

macro_rules! status_codes {
    ($(($name:ident, $code:expr, $reason:expr),)*) => {
        impl StatusCode {
            $(
                #[doc = concat!("`", stringify!($code), " ", $reason, "`")]
                pub const $name: StatusCode = StatusCode($code);
            )*

            /// The reason phrase registered for this code, if it is a registered code.
            pub fn canonical_reason(self) -> Option<&'static str> {
                match self.0 {
                    $($code => Some($reason),)*
                    _ => None,
                }
            }
        }
    };
}

status_codes! {
    (CONTINUE, 100, "Continue"),
    (SWITCHING_PROTOCOLS, 101, "Switching Protocols"),
    (EARLY_HINTS, 103, "Early Hints"),
    (OK, 200, "OK"),
    (CREATED, 201, "Created"),
    (ACCEPTED, 202, "Accepted"),
    (NON_AUTHORITATIVE_INFORMATION, 203, "Non-Authoritative Information"),
    (NO_CONTENT, 204, "No Content"),
    (RESET_CONTENT, 205, "Reset Content"),
    (PARTIAL_CONTENT, 206, "Partial Content"),
    (MULTIPLE_CHOICES, 300, "Multiple Choices"),
    (MOVED_PERMANENTLY, 301, "Moved Permanently"),
    (FOUND, 302, "Found"),
    (SEE_OTHER, 303, "See Other"),
    (NOT_MODIFIED, 304, "Not Modified"),
    (TEMPORARY_REDIRECT, 307, "Temporary Redirect"),
    (PERMANENT_REDIRECT, 308, "Permanent Redirect"),
    (BAD_REQUEST, 400, "Bad Request"),
    (UNAUTHORIZED, 401, "Unauthorized"),
    (PAYMENT_REQUIRED, 402, "Payment Required"),
    (FORBIDDEN, 403, "Forbidden"),
    (NOT_FOUND, 404, "Not Found"),
    (METHOD_NOT_ALLOWED, 405, "Method Not Allowed"),
    (NOT_ACCEPTABLE, 406, "Not Acceptable"),
    (PROXY_AUTHENTICATION_REQUIRED, 407, "Proxy Authentication Required"),
    (REQUEST_TIMEOUT, 408, "Request Timeout"),
    (CONFLICT, 409, "Conflict"),
    (GONE, 410, "Gone"),
    (LENGTH_REQUIRED, 411, "Length Required"),
    (PRECONDITION_FAILED, 412, "Precondition Failed"),
    (CONTENT_TOO_LARGE, 413, "Content Too Large"),
    (URI_TOO_LONG, 414, "URI Too Long"),
    (UNSUPPORTED_MEDIA_TYPE, 415, "Unsupported Media Type"),
    (RANGE_NOT_SATISFIABLE, 416, "Range Not Satisfiable"),
    (EXPECTATION_FAILED, 417, "Expectation Failed"),
    (MISDIRECTED_REQUEST, 421, "Misdirected Request"),
    (UNPROCESSABLE_CONTENT, 422, "Unprocessable Content"),
    (UPGRADE_REQUIRED, 426, "Upgrade Required"),
    (PRECONDITION_REQUIRED, 428, "Precondition Required"),
    (TOO_MANY_REQUESTS, 429, "Too Many Requests"),
    (REQUEST_HEADER_FIELDS_TOO_LARGE, 431, "Request Header Fields Too Large"),
    (INTERNAL_SERVER_ERROR, 500, "Internal Server Error"),
    (NOT_IMPLEMENTED, 501, "Not Implemented"),
    (BAD_GATEWAY, 502, "Bad Gateway"),
    (SERVICE_UNAVAILABLE, 503, "Service Unavailable"),
    (GATEWAY_TIMEOUT, 504, "Gateway Timeout"),
    (HTTP_VERSION_NOT_SUPPORTED, 505, "HTTP Version Not Supported"),
}

impl StatusCode {
    /// Builds a status code, or `None` outside 100–999.
    pub const fn from_u16(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 999 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// True for 1xx interim responses.
    pub const fn is_informational(self) -> bool {
        self.0 < 200
    }

    /// True for statuses whose responses never carry content: 1xx, 204 and 304.
    pub const fn forbids_body(self) -> bool {
        self.0 < 200 || self.0 == 204 || self.0 == 304
    }

    /// The three ASCII digits of the code.
    pub const fn digits(self) -> [u8; 3] {
        let c = self.0;
        [
            b'0' + (c / 100 % 10) as u8,
            b'0' + (c / 10 % 10) as u8,
            b'0' + (c % 10) as u8,
        ]
    }
}

impl fmt::Debug for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusCode({})", self.0)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.canonical_reason() {
            Some(reason) => write!(f, "{} {}", self.0, reason),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StatusCode;

    /// Codes outside 100–999 are refused.
    #[test]
    fn range_is_enforced() {
        assert!(StatusCode::from_u16(99).is_none());
        assert!(StatusCode::from_u16(1000).is_none());
        assert_eq!(StatusCode::from_u16(599).map(StatusCode::as_u16), Some(599));
    }

    /// Registered codes carry their RFC 9110 reason phrase; others have none.
    #[test]
    fn canonical_reasons() {
        assert_eq!(StatusCode::OK.canonical_reason(), Some("OK"));
        assert_eq!(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.canonical_reason(),
            Some("Request Header Fields Too Large")
        );
        assert_eq!(
            StatusCode::from_u16(299).and_then(|s| s.canonical_reason()),
            None
        );
    }

    /// The digit rendering matches the number, including leading digits.
    #[test]
    fn digits_render() {
        assert_eq!(&StatusCode::NOT_FOUND.digits(), b"404");
        assert_eq!(&StatusCode::CONTINUE.digits(), b"100");
    }

    /// Only 1xx, 204 and 304 forbid a body.
    #[test]
    fn bodyless_statuses() {
        assert!(StatusCode::EARLY_HINTS.forbids_body());
        assert!(StatusCode::NO_CONTENT.forbids_body());
        assert!(StatusCode::NOT_MODIFIED.forbids_body());
        assert!(!StatusCode::OK.forbids_body());
        assert!(!StatusCode::RESET_CONTENT.forbids_body());
    }
}
