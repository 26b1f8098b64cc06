//! Unit tests of the HTTP/2 core.
