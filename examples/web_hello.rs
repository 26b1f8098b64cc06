//! A hello-world web site: `cargo run --example web_hello [ENDPOINT]` (default
//! `tcp:8080`), then `curl -i http://127.0.0.1:8080/`. Every response is
//! logged to standard output in the combined format; Ctrl-C stops it.

use std::path::Path;
use std::rc::Rc;

use torsion::endpoints::{listen, parse_server};
use torsion::reactor::Reactor;
use torsion::web::{AccessLog, Render, Request, Resource, Site, StaticData, Tree};

/// Greets whoever asks, by the `name` query argument if given.
struct Hello;

impl Resource for Hello {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: &Request) -> Render {
        let name = request.arg(b"name").unwrap_or_else(|| b"world".to_vec());
        request.set_header("content-type", "text/plain; charset=utf-8");
        let mut body = b"Hello, ".to_vec();
        body.extend_from_slice(&name);
        body.extend_from_slice(b"!\n");
        Render::Body(body)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let description = std::env::args().nth(1).unwrap_or_else(|| "tcp:8080".into());
    let reactor = Reactor::new()?;
    let root = Tree::new();
    root.put_child("", Rc::new(Hello));
    root.put_child("robots.txt", Rc::new(StaticData::new("", "text/plain")));
    let site = Site::new(reactor.clock().clone(), Rc::new(root));
    site.set_access_log(Some(AccessLog::open(Path::new("-"))?));
    let endpoint = parse_server(&description)?;
    let port = listen(&reactor, &endpoint, site)?;
    println!("serving on {}", port.address());
    reactor.run()?;
    Ok(())
}
