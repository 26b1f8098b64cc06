//! [`IdMap`]: a hash map keyed by identifiers this process hands out itself (request ids),
//! hashed with one multiplication instead of SipHash: keys no peer chooses need no defence
//! against collision flooding, and sequential ids spread evenly over the buckets.
//!
//! Tested by: src/http/id_map.rs (unit tests)
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` for locally chosen integer keys (see the module documentation).
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// An empty [`IdMap`].
pub(crate) fn id_map<K, V>() -> IdMap<K, V> {
    HashMap::with_hasher(BuildHasherDefault::default())
}

/// Multiplies an integer key by an odd constant (Fibonacci hashing): a bijection, so distinct
/// keys never collide in full, and both the high bits (the map's tags) and the low bits (its
/// bucket index) vary with sequential keys.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

const FACTOR: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(FACTOR);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0 ^ value).wrapping_mul(FACTOR);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher, BuildHasherDefault};

    use super::*;

    /// Sequential ids get distinct hashes and fill an IdMap like any map.
    #[test]
    fn sequential_ids_hash_apart_and_map() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let hashes: std::collections::HashSet<u64> =
            (0..10_000u64).map(|id| build.hash_one(id)).collect();
        assert_eq!(hashes.len(), 10_000);
        let mut map = id_map();
        for id in 0..1000u64 {
            map.insert(id, id * 2);
        }
        assert_eq!(map.remove(&500), Some(1000));
        assert_eq!(map.get(&999), Some(&1998));
        assert_eq!(map.len(), 999);
    }

    /// Byte input (any Hash type) is folded into the hash, so different bytes differ.
    #[test]
    fn bytes_are_hashed() {
        let build = BuildHasherDefault::<IdHasher>::default();
        assert_ne!(build.hash_one("ab"), build.hash_one("ba"));
    }
}
