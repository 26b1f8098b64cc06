//! [`StaticMounts`]: directories mounted at URL prefixes in front of another resource (the
//! WSGI application), as `torsion web --wsgi app --static /static=./static` builds it.
//!
//! A request under a mounted prefix is served by that prefix's [`File`]; every other request
//! goes to the fallback untouched — nothing consumed from its path — so a WSGI application
//! sees `SCRIPT_NAME` empty and the whole path in `PATH_INFO`, as if it were the root.
//!
//! Tested by: reactor_tests/static_files/mounts.rs

use std::rc::Rc;

use super::file::File;
use crate::http::Method;
use crate::web::{Render, Request, Resource, render_checked};

/// Mounted directories, longest prefix first, and the resource for everything else.
pub struct StaticMounts {
    mounts: Vec<(Vec<Vec<u8>>, File)>,
    fallback: Rc<dyn Resource>,
}

impl StaticMounts {
    /// Sends everything to `fallback` until directories are mounted.
    pub fn new(fallback: Rc<dyn Resource>) -> StaticMounts {
        StaticMounts {
            mounts: Vec::new(),
            fallback,
        }
    }

    /// Serves `file` under `prefix` (`/static`, `/media/uploads`). The prefix is split into
    /// path segments; a later mount of the same prefix replaces the earlier one.
    pub fn mount(&mut self, prefix: &str, file: File) {
        let segments: Vec<Vec<u8>> = prefix
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| crate::web::unquote(s.as_bytes()))
            .collect();
        self.mounts.retain(|(existing, _)| *existing != segments);
        self.mounts.push((segments, file));
        self.mounts
            .sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.len()));
    }

    fn matching(&self, request: &Request) -> Option<(usize, &File)> {
        request.with_view(|view| {
            self.mounts
                .iter()
                .find(|(prefix, _)| view.postpath.starts_with(prefix))
                .map(|(prefix, file)| (prefix.len(), file))
        })
    }
}

impl std::fmt::Debug for StaticMounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let prefixes: Vec<String> = self
            .mounts
            .iter()
            .map(|(p, _)| format!("/{}", String::from_utf8_lossy(&p.join(&b'/'))))
            .collect();
        f.debug_struct("StaticMounts")
            .field("prefixes", &prefixes)
            .finish_non_exhaustive()
    }
}

impl Resource for StaticMounts {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[Method] {
        &[]
    }

    fn render(&self, request: &Request) -> Render {
        match self.matching(request) {
            Some((depth, file)) => {
                for _ in 0..depth {
                    request.advance_path();
                }
                render_checked(file, request)
            }
            None => render_checked(&*self.fallback, request),
        }
    }
}
