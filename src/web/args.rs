//! [`Args`]: a request's query arguments.
//!
//! Tested by: reactor_tests/web.rs

/// Query arguments: an ordered multimap of byte strings (Twisted's
/// `request.args`, with the order of the query kept).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Args {
    /// Appends a field.
    pub fn push(&mut self, name: Vec<u8>, value: Vec<u8>) {
        self.fields.push((name, value));
    }

    /// The first value of `name`.
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `name`, in query order.
    pub fn get_all<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Every field, in query order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }

    /// How many fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}
