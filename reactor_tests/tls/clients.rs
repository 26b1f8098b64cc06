//! Real clients over TLS: curl and Python's `ssl`.
