//! `torsion web` with TLS endpoints.
