//! The static table (RFC 7541 Appendix A) and the dynamic table (§4) that
//! encoder and decoder each keep, with eviction by the RFC's size rule:
//! an entry costs its name and value lengths plus 32 bytes.
//!
//! Tested by: the unit tests below, src/hpack/tests.rs and conformance/hpack.rs

use std::collections::VecDeque;

/// The per-entry overhead of RFC 7541 §4.1.
pub(super) const ENTRY_OVERHEAD: usize = 32;

/// The static table; HPACK index `i` is `STATIC[i - 1]`.
pub(super) const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// What the static table knows about a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StaticMatch {
    /// The name and value are entry `index`.
    Field(usize),
    /// Only the name is known; `index` is its first entry.
    Name(usize),
}

/// Looks a field up in the static table.
pub(super) fn find_static(name: &[u8], value: &[u8]) -> Option<StaticMatch> {
    // (first index, number of entries) of each name.
    let (first, count) = match name {
        b":authority" => (1, 1),
        b":method" => (2, 2),
        b":path" => (4, 2),
        b":scheme" => (6, 2),
        b":status" => (8, 7),
        b"accept-charset" => (15, 1),
        b"accept-encoding" => (16, 1),
        b"accept-language" => (17, 1),
        b"accept-ranges" => (18, 1),
        b"accept" => (19, 1),
        b"access-control-allow-origin" => (20, 1),
        b"age" => (21, 1),
        b"allow" => (22, 1),
        b"authorization" => (23, 1),
        b"cache-control" => (24, 1),
        b"content-disposition" => (25, 1),
        b"content-encoding" => (26, 1),
        b"content-language" => (27, 1),
        b"content-length" => (28, 1),
        b"content-location" => (29, 1),
        b"content-range" => (30, 1),
        b"content-type" => (31, 1),
        b"cookie" => (32, 1),
        b"date" => (33, 1),
        b"etag" => (34, 1),
        b"expect" => (35, 1),
        b"expires" => (36, 1),
        b"from" => (37, 1),
        b"host" => (38, 1),
        b"if-match" => (39, 1),
        b"if-modified-since" => (40, 1),
        b"if-none-match" => (41, 1),
        b"if-range" => (42, 1),
        b"if-unmodified-since" => (43, 1),
        b"last-modified" => (44, 1),
        b"link" => (45, 1),
        b"location" => (46, 1),
        b"max-forwards" => (47, 1),
        b"proxy-authenticate" => (48, 1),
        b"proxy-authorization" => (49, 1),
        b"range" => (50, 1),
        b"referer" => (51, 1),
        b"refresh" => (52, 1),
        b"retry-after" => (53, 1),
        b"server" => (54, 1),
        b"set-cookie" => (55, 1),
        b"strict-transport-security" => (56, 1),
        b"transfer-encoding" => (57, 1),
        b"user-agent" => (58, 1),
        b"vary" => (59, 1),
        b"via" => (60, 1),
        b"www-authenticate" => (61, 1),
        _ => return None,
    };
    let exact = (first..first + count).find(|&i| STATIC[i - 1].1 == value);
    Some(exact.map_or(StaticMatch::Name(first), StaticMatch::Field))
}

/// One dynamic entry: name and value in one allocation.
#[derive(Debug)]
struct Entry {
    bytes: Box<[u8]>,
    name_len: usize,
}

impl Entry {
    fn name(&self) -> &[u8] {
        &self.bytes[..self.name_len]
    }

    fn value(&self) -> &[u8] {
        &self.bytes[self.name_len..]
    }

    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

/// A dynamic table: newest entry first, evicting the oldest to stay within
/// its capacity (the "maximum table size" of RFC 7541 §4.2).
#[derive(Debug)]
pub(super) struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    capacity: usize,
}

impl DynamicTable {
    /// An empty table of `capacity` bytes.
    pub(super) fn new(capacity: usize) -> DynamicTable {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            capacity,
        }
    }

    /// The sum of the entries' sizes.
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// The current maximum size.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of entries.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Entry `i` counting from the newest (0), as `(name, value)`.
    pub(super) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.entries.get(i).map(|e| (e.name(), e.value()))
    }

    /// Changes the maximum size, evicting entries that no longer fit.
    pub(super) fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict_to(capacity);
    }

    /// Adds an entry, evicting the oldest to make room; an entry larger than
    /// the whole table empties it and is not kept (RFC 7541 §4.4).
    pub(super) fn insert(&mut self, name: &[u8], value: &[u8]) {
        let size = name.len() + value.len() + ENTRY_OVERHEAD;
        if size > self.capacity {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.capacity - size);
        let mut bytes = Vec::with_capacity(name.len() + value.len());
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(value);
        self.entries.push_front(Entry {
            bytes: bytes.into_boxed_slice(),
            name_len: name.len(),
        });
        self.size += size;
    }

    /// Records that an entry too large for the table was added: the table
    /// empties (RFC 7541 §4.4) without the entry being materialised.
    pub(super) fn insert_oversized(&mut self) {
        self.evict_to(0);
    }

    /// Looks `(name, value)` up, newest first: the position of an exact
    /// match, else of the newest entry with that name.
    pub(super) fn find(&self, name: &[u8], value: &[u8]) -> Option<(usize, bool)> {
        let mut by_name = None;
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.name_len == name.len() && entry.name() == name {
                if entry.value() == value {
                    return Some((i, true));
                }
                by_name.get_or_insert((i, false));
            }
        }
        by_name
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some(entry) => self.size -= entry.size(),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every static entry is found by its name and value, and every name
    /// resolves to its first entry.
    #[test]
    fn static_lookup_matches_the_table() {
        for (i, &(name, value)) in STATIC.iter().enumerate() {
            assert_eq!(find_static(name, value), Some(StaticMatch::Field(i + 1)));
            let first = STATIC.iter().position(|e| e.0 == name).unwrap() + 1;
            assert_eq!(
                find_static(name, b"\x00not in the table"),
                Some(StaticMatch::Name(first))
            );
        }
        assert_eq!(find_static(b"x-unknown", b""), None);
        assert_eq!(find_static(b"Content-Type", b""), None);
    }

    /// Inserting evicts oldest entries first, by name + value + 32 accounting.
    #[test]
    fn eviction_follows_the_size_rule() {
        let mut table = DynamicTable::new(100);
        table.insert(b"aaaa", b"1111"); // 40
        table.insert(b"bbbb", b"2222"); // 40
        assert_eq!((table.len(), table.size()), (2, 80));
        table.insert(b"cccc", b"3333"); // evicts aaaa
        assert_eq!((table.len(), table.size()), (2, 80));
        assert_eq!(table.get(0), Some((&b"cccc"[..], &b"3333"[..])));
        assert_eq!(table.get(1), Some((&b"bbbb"[..], &b"2222"[..])));
        assert_eq!(table.get(2), None);
        // Exactly filling the table keeps the entry.
        table.insert(b"d", &[b'x'; 67]);
        assert_eq!((table.len(), table.size()), (1, 100));
    }

    /// An entry larger than the table empties it and is not stored.
    #[test]
    fn oversized_entry_empties_the_table() {
        let mut table = DynamicTable::new(100);
        table.insert(b"a", b"b");
        table.insert(b"n", &[b'v'; 68]);
        assert_eq!((table.len(), table.size()), (0, 0));
        table.insert(b"a", b"b");
        table.insert_oversized();
        assert_eq!(table.len(), 0);
    }

    /// Lowering the capacity evicts until the entries fit; zero empties the table.
    #[test]
    fn shrinking_evicts() {
        let mut table = DynamicTable::new(200);
        for name in [b"a", b"b", b"c"] {
            table.insert(name, b"12345678"); // 41 each
        }
        table.set_capacity(90);
        assert_eq!((table.len(), table.size()), (2, 82));
        assert_eq!(table.get(1).map(|e| e.0), Some(&b"b"[..]));
        table.set_capacity(0);
        assert_eq!((table.len(), table.size()), (0, 0));
        table.insert(b"a", b"");
        assert_eq!(table.len(), 0);
    }

    /// `find` prefers an exact match and otherwise reports the newest entry with the name.
    #[test]
    fn find_prefers_exact_then_newest_name() {
        let mut table = DynamicTable::new(4096);
        table.insert(b"server", b"one");
        table.insert(b"server", b"two");
        table.insert(b"other", b"one");
        assert_eq!(table.find(b"server", b"one"), Some((2, true)));
        assert_eq!(table.find(b"server", b"three"), Some((1, false)));
        assert_eq!(table.find(b"absent", b"one"), None);
    }
}
