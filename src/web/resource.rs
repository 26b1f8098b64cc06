//! [`Resource`]: a node of the URL tree (Twisted's `IResource`), traversal,
//! method checks, and the simple resources every site needs.
//!
//! Traversal follows Twisted's `getChildForRequest`: while the resource is
//! not a leaf and `postpath` is not empty, the next segment moves to
//! `prepath` and [`Resource::child`] picks the next resource; a missing
//! child is a 404. The resource reached renders the request.
//!
//! Tested by: reactor_tests/web.rs

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use super::request::Request;
use crate::http::{Method, StatusCode};

/// What [`Resource::render`] produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Render {
    /// The whole body: sent with a `Content-Length`, then the request is finished.
    Body(Vec<u8>),
    /// The resource will write and finish the request later (Twisted's `NOT_DONE_YET`).
    NotDoneYet,
}

/// Only `GET` (and so `HEAD`).
const GET_ONLY: &[Method] = &[Method::Get];

/// A node of the URL tree.
pub trait Resource {
    /// A leaf renders every request that reaches it, whatever path remains.
    fn is_leaf(&self) -> bool {
        false
    }

    /// Static children, looked up by the default [`child`](Self::child).
    fn children(&self) -> Option<&Children> {
        None
    }

    /// The child for path `segment` (already percent-decoded), or `None` for 404.
    fn child(&self, segment: &[u8], request: &Request) -> Option<Rc<dyn Resource>> {
        let _ = request;
        self.children().and_then(|children| children.get(segment))
    }

    /// Methods this resource renders; others get 405 with an `Allow` header.
    /// `GET` implies `HEAD`; an empty list accepts every method (error pages).
    fn allowed_methods(&self) -> &[Method] {
        GET_ONLY
    }

    /// Renders the request.
    fn render(&self, request: &Request) -> Render;
}

/// Static children by path segment (Twisted's `putChild` store).
#[derive(Default)]
pub struct Children {
    map: RefCell<HashMap<Vec<u8>, Rc<dyn Resource>>>,
}

impl Children {
    /// No children.
    pub fn new() -> Children {
        Children::default()
    }

    /// Adds or replaces the child at `segment`.
    pub fn put_child(&self, segment: impl Into<Vec<u8>>, child: Rc<dyn Resource>) {
        self.map.borrow_mut().insert(segment.into(), child);
    }

    /// The child at `segment`.
    pub fn get(&self, segment: &[u8]) -> Option<Rc<dyn Resource>> {
        self.map.borrow().get(segment).cloned()
    }
}

impl fmt::Debug for Children {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map = self.map.borrow();
        let mut names: Vec<_> = map.keys().map(|k| String::from_utf8_lossy(k)).collect();
        names.sort();
        f.debug_struct("Children").field("names", &names).finish()
    }
}

/// An inner node: serves its children; rendering it directly is a 404
/// unless an index is set (the child for the empty segment, as `/dir/`).
#[derive(Debug, Default)]
pub struct Tree {
    children: Children,
}

impl Tree {
    /// A node without children.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Adds or replaces the child at `segment` (Twisted's `putChild`).
    pub fn put_child(&self, segment: impl Into<Vec<u8>>, child: Rc<dyn Resource>) {
        self.children.put_child(segment, child);
    }
}

impl Resource for Tree {
    fn children(&self) -> Option<&Children> {
        Some(&self.children)
    }

    fn render(&self, request: &Request) -> Render {
        NoResource.render(request)
    }
}

/// Fixed bytes with a fixed content type (Twisted's `static.Data`).
#[derive(Clone, Debug)]
pub struct StaticData {
    body: Vec<u8>,
    content_type: String,
}

impl StaticData {
    /// Serves `body` as `content_type`.
    pub fn new(body: impl Into<Vec<u8>>, content_type: &str) -> StaticData {
        StaticData {
            body: body.into(),
            content_type: content_type.to_string(),
        }
    }
}

impl Resource for StaticData {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        request.set_header("Content-Type", &self.content_type);
        Render::Body(self.body.clone())
    }
}

/// A status code with a short HTML page (Twisted's `ErrorPage`).
#[derive(Clone, Debug)]
pub struct ErrorPage {
    code: StatusCode,
    brief: String,
    detail: String,
}

impl ErrorPage {
    /// A page answering `code`, titled `brief`, explaining `detail`.
    pub fn new(code: StatusCode, brief: &str, detail: &str) -> ErrorPage {
        ErrorPage {
            code,
            brief: brief.to_string(),
            detail: detail.to_string(),
        }
    }
}

impl Resource for ErrorPage {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[Method] {
        &[]
    }

    fn render(&self, request: &Request) -> Render {
        request.set_response_code(self.code);
        request.set_header("Content-Type", "text/html; charset=utf-8");
        Render::Body(error_page_html(self.code, &self.brief, &self.detail))
    }
}

/// The 404 page (Twisted's `NoResource`).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoResource;

impl Resource for NoResource {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[Method] {
        &[]
    }

    fn render(&self, request: &Request) -> Render {
        ErrorPage::new(
            StatusCode::NOT_FOUND,
            "No Such Resource",
            "No such child resource.",
        )
        .render(request)
    }
}

/// Redirects every request to a fixed URL with `302 Found` (Twisted's `Redirect`).
#[derive(Clone, Debug)]
pub struct Redirect {
    location: Vec<u8>,
}

impl Redirect {
    /// Redirects to `location`.
    pub fn new(location: impl Into<Vec<u8>>) -> Redirect {
        Redirect {
            location: location.into(),
        }
    }
}

impl Resource for Redirect {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        request.set_response_code(StatusCode::FOUND);
        request.set_header("Location", &self.location);
        request.set_header("Content-Type", "text/html; charset=utf-8");
        let target = html_escape(&String::from_utf8_lossy(&self.location));
        let body = format!(
            "<!DOCTYPE html>\n<html><head><title>Moved</title></head>\
             <body><p>This resource has moved to <a href=\"{target}\">{target}</a>.</p></body></html>\n"
        );
        Render::Body(body.into_bytes())
    }
}

/// A short HTML error page: status, title and one paragraph (escaped).
pub fn error_page_html(code: StatusCode, brief: &str, detail: &str) -> Vec<u8> {
    let brief = html_escape(brief);
    let detail = html_escape(detail);
    format!(
        "<!DOCTYPE html>\n<html><head><title>{code} {brief}</title></head>\
         <body><h1>{brief}</h1><p>{detail}</p></body></html>\n"
    )
    .into_bytes()
}

/// Escapes text for HTML element content and quoted attributes.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Finds the resource for `request` under `root`, moving segments from
/// `postpath` to `prepath` (Twisted's `getChildForRequest`).
pub(crate) fn locate(root: Rc<dyn Resource>, request: &Request) -> Rc<dyn Resource> {
    let mut resource = root;
    while !resource.is_leaf() {
        let Some(segment) = request.advance_path() else {
            break;
        };
        resource = match resource.child(&segment, request) {
            Some(child) => child,
            None => return Rc::new(NoResource),
        };
    }
    resource
}

/// Renders after the method check: a method the resource does not allow
/// gets 405 with `Allow`.
pub(crate) fn render_checked(resource: &dyn Resource, request: &Request) -> Render {
    let allowed = resource.allowed_methods();
    let method = request.method();
    let permits = |m: &Method| *m == method || (method == Method::Head && *m == Method::Get);
    if allowed.is_empty() || allowed.iter().any(permits) {
        return resource.render(request);
    }
    let mut names: Vec<&[u8]> = allowed.iter().map(Method::as_bytes).collect();
    if allowed.contains(&Method::Get) && !allowed.contains(&Method::Head) {
        names.push(b"HEAD");
    }
    request.set_header("Allow", names.join(&b", "[..]));
    ErrorPage::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "This resource does not support the request method.",
    )
    .render(request)
}
