//! [`Payload`]: bytes handed from one layer to the next whole, without a copy.
//!
//! A response body usually already lives in a buffer of its own: a vector the web layer built,
//! or a Python `bytes` object an application returned. Handing that buffer down (web layer,
//! protocol, transport) instead of copying it saves a pass over every byte of a large
//! response; where a layer must keep bytes the socket did not take, a vector is moved and any
//! other buffer is copied then, and only what is left.
//!
//! Tested by: src/payload.rs (unit tests) and reactor_tests/wsgi_http.rs

use std::fmt;
use std::ops::Deref;

/// Bytes given up by their producer: a vector, or a buffer whose owner keeps it alive and
/// unchanged until the payload is dropped (such as a Python `bytes` object, which is
/// immutable). Dereferences to the bytes.
pub enum Payload {
    /// A vector, moved along.
    Vec(Vec<u8>),
    /// A buffer owned elsewhere; it may be dropped on another thread than the one that made it.
    Shared(Box<dyn AsRef<[u8]> + Send>),
}

impl Payload {
    /// An empty payload; allocates nothing.
    pub const fn new() -> Self {
        Self::Vec(Vec::new())
    }

    /// The bytes as a vector: moved when they are one, copied otherwise.
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Self::Vec(bytes) => bytes,
            Self::Shared(buffer) => (*buffer).as_ref().to_vec(),
        }
    }
}

impl Default for Payload {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Vec(bytes) => bytes,
            Self::Shared(buffer) => (**buffer).as_ref(),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Vec(bytes)
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Self {
        Self::Vec(bytes.to_vec())
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Payload {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Vec(_) => "Vec",
            Self::Shared(_) => "Shared",
        };
        write!(f, "Payload::{kind}({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vector payload is handed back as the same allocation, not a copy.
    #[test]
    fn vector_payload_moves_its_allocation() {
        let bytes = b"hello".to_vec();
        let address = bytes.as_ptr();
        let payload = Payload::from(bytes);
        assert_eq!(&*payload, b"hello");
        let moved = payload.into_vec();
        assert_eq!(moved.as_ptr(), address);
    }

    /// A shared payload reads its owner's bytes in place and copies them only into a vector.
    #[test]
    fn shared_payload_reads_in_place() {
        let owner: Box<dyn AsRef<[u8]> + Send> = Box::new(String::from("shared bytes"));
        let address = (*owner).as_ref().as_ptr();
        let payload = Payload::Shared(owner);
        assert_eq!(payload.as_ptr(), address);
        assert_eq!(payload.len(), 12);
        let copied = payload.into_vec();
        assert_eq!(copied, b"shared bytes");
        assert_ne!(copied.as_ptr(), address);
    }

    /// Payloads compare by their bytes, whatever holds them.
    #[test]
    fn payloads_compare_by_content() {
        let shared = Payload::Shared(Box::new(b"abc".to_vec()));
        assert_eq!(shared, Payload::from(&b"abc"[..]));
        assert_eq!(Payload::new().len(), 0);
        assert_eq!(format!("{shared:?}"), "Payload::Shared(3 bytes)");
    }
}
