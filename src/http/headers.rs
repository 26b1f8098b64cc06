//! An ordered multimap of raw header fields stored in one byte buffer.
//!
//! Names and values are kept as raw bytes exactly as received (values have
//! surrounding whitespace removed by the parser). Lookups compare names
//! ASCII-case-insensitively. All fields live in a single append-only buffer
//! indexed by small spans, so a parsed head costs two allocations however
//! many fields it has.
//!
//! Tested by: src/http/headers.rs (unit tests)

use std::fmt;

/// A byte range inside a [`Headers`] buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Span {
    /// The span `start..end`.
    pub(crate) const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// This span moved `by` bytes to the right.
    pub(crate) const fn shift(self, by: usize) -> Span {
        Span::new(self.start + by, self.end + by)
    }

    /// The bytes this span covers in `buf`; empty if out of range.
    pub(crate) fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start..self.end).unwrap_or_default()
    }
}

/// One field: where its name and value sit in the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) name: Span,
    pub(crate) value: Span,
}

/// Ordered header fields with case-insensitive name lookup.
///
/// The buffer only ever grows: removing a field drops its index entry but
/// keeps its bytes, so spans handed out by the owning head stay valid.
#[derive(Default)]
pub struct Headers {
    buf: Vec<u8>,
    entries: Vec<Entry>,
}

impl Clone for Headers {
    fn clone(&self) -> Headers {
        Headers {
            buf: self.buf.clone(),
            entries: self.entries.clone(),
        }
    }

    /// Reuses this set's buffers.
    fn clone_from(&mut self, source: &Headers) {
        self.buf.clone_from(&source.buf);
        self.entries.clone_from(&source.entries);
    }
}

impl Headers {
    /// An empty set; allocates nothing.
    pub const fn new() -> Headers {
        Headers {
            buf: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// An empty set with room for `fields` fields totalling `bytes` bytes.
    pub fn with_capacity(fields: usize, bytes: usize) -> Headers {
        Headers {
            buf: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(fields),
        }
    }

    /// The raw backing buffer (shared with the owning head's other spans).
    pub(crate) fn raw(&self) -> &[u8] {
        &self.buf
    }

    /// Appends bytes that belong to no field and returns where they landed.
    pub(crate) fn push_raw(&mut self, bytes: &[u8]) -> Span {
        let start = self.buf.len();
        self.buf.extend_from_slice(bytes);
        Span::new(start, self.buf.len())
    }

    /// Removes every field, keeping the buffers' room.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
    }

    /// Replaces the contents with `buf` and its index `entries` (spans must lie inside `buf`),
    /// reusing this set's room.
    pub(crate) fn refill(&mut self, buf: &[u8], entries: &[Entry]) {
        self.buf.clear();
        self.buf.extend_from_slice(buf);
        self.entries.clear();
        self.entries.extend_from_slice(entries);
    }

    /// How many bytes the buffers hold room for.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.buf.capacity() + self.entries.capacity() * std::mem::size_of::<Entry>()
    }

    /// Number of fields (each repeated name counts separately).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a field after all existing ones.
    pub fn append(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let name = self.push_raw(name.as_ref());
        let value = self.push_raw(value.as_ref());
        self.entries.push(Entry { name, value });
    }

    /// Replaces every field called `name` by one field with `value`.
    pub fn set(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.remove(name.as_ref());
        self.append(name, value);
    }

    /// Removes every field called `name`; returns how many were removed.
    pub fn remove(&mut self, name: impl AsRef<[u8]>) -> usize {
        let name = name.as_ref();
        let before = self.entries.len();
        let buf = &self.buf;
        self.entries
            .retain(|e| !e.name.of(buf).eq_ignore_ascii_case(name));
        before - self.entries.len()
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: impl AsRef<[u8]>) -> Option<&[u8]> {
        let name = name.as_ref();
        // Names of another length are passed over without looking at their bytes, and a name
        // spelled the same way is found without folding case.
        self.entries
            .iter()
            .find(|e| {
                if e.name.end.wrapping_sub(e.name.start) != name.len() {
                    return false;
                }
                let candidate = e.name.of(&self.buf);
                candidate == name || candidate.eq_ignore_ascii_case(name)
            })
            .map(|e| e.value.of(&self.buf))
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a [u8]) -> GetAll<'a> {
        GetAll {
            inner: self.iter(),
            name,
        }
    }

    /// True when at least one field is called `name`.
    pub fn contains(&self, name: impl AsRef<[u8]>) -> bool {
        self.get(name).is_some()
    }

    /// All fields as `(name, value)` in arrival order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            entries: self.entries.iter(),
            buf: &self.buf,
        }
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        f.debug_list()
            .entries(self.iter().map(|(n, v)| (lossy(n), lossy(v))))
            .finish()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over `(name, value)` pairs of a [`Headers`].
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    entries: std::slice::Iter<'a, Entry>,
    buf: &'a [u8],
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let e = self.entries.next()?;
        Some((e.name.of(self.buf), e.value.of(self.buf)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

/// Iterator over the values of one field name; see [`Headers::get_all`].
#[derive(Clone, Debug)]
pub struct GetAll<'a> {
    inner: Iter<'a>,
    name: &'a [u8],
}

impl<'a> Iterator for GetAll<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let name = self.name;
        self.inner
            .by_ref()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::Headers;

    fn sample() -> Headers {
        let mut h = Headers::new();
        h.append("Host", "example.com");
        h.append("Accept", "a");
        h.append("accept", "b");
        h
    }

    /// `clone_from` and `clear` leave exactly the source's fields (or none), whatever was there.
    #[test]
    fn clone_from_and_clear_reuse_a_set() {
        let mut reused = Headers::with_capacity(4, 64);
        reused.append("Stale", "left over");
        reused.clone_from(&sample());
        assert_eq!(reused, sample());
        assert!(reused.get("stale").is_none());
        reused.clear();
        assert!(reused.is_empty());
        assert!(reused.raw().is_empty());
        assert!(reused.capacity_bytes() > 0);
    }

    /// Lookup ignores ASCII case and returns the first match.
    #[test]
    fn get_is_case_insensitive() {
        let h = sample();
        assert_eq!(h.get("ACCEPT"), Some(&b"a"[..]));
        assert_eq!(h.get("host"), Some(&b"example.com"[..]));
        assert_eq!(h.get("missing"), None);
    }

    /// `get_all` yields every value of a repeated name in arrival order.
    #[test]
    fn get_all_in_order() {
        let h = sample();
        let all: Vec<&[u8]> = h.get_all(b"Accept").collect();
        assert_eq!(all, vec![&b"a"[..], &b"b"[..]]);
    }

    /// Iteration preserves insertion order and original name case.
    #[test]
    fn iteration_order() {
        let h = sample();
        let names: Vec<&[u8]> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec![&b"Host"[..], &b"Accept"[..], &b"accept"[..]]);
    }

    /// `set` replaces all same-named fields with one at the end.
    #[test]
    fn set_replaces_all() {
        let mut h = sample();
        h.set("ACCEPT", "c");
        assert_eq!(h.len(), 2);
        assert_eq!(h.get_all(b"accept").collect::<Vec<_>>(), vec![&b"c"[..]]);
    }

    /// `remove` reports how many fields it removed.
    #[test]
    fn remove_counts() {
        let mut h = sample();
        assert_eq!(h.remove("accept"), 2);
        assert_eq!(h.remove("accept"), 0);
        assert!(!h.contains("Accept"));
        assert!(h.contains("HOST"));
    }

    /// Equality compares field content, not buffer layout.
    #[test]
    fn equality_ignores_layout() {
        let mut a = sample();
        a.remove("host");
        let mut b = Headers::new();
        b.append("Accept", "a");
        b.append("accept", "b");
        assert_eq!(a, b);
        b.append("x", "y");
        assert_ne!(a, b);
    }
}
