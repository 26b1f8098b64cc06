//! Shared pieces of the web tests: a server on 127.0.0.1, closure resources,
//! raw clients, curl, and a small HTTP/1.1 response parser.

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::IntoRawFd;
use std::rc::Rc;
use std::thread::{self, JoinHandle};

use socket2::{Domain, Socket, Type};
use torsion::http::Method;
use torsion::reactor::Reactor;
use torsion::transport::{Address, ListenOptions, Port, adopt_listener, listen_tcp};
use torsion::web::{Render, Request, Resource, Site, SiteConfig};

use crate::util::{Peer, new_reactor, turn_until};

/// How many reactor turns a test may wait for an exchange.
pub(crate) const MAX_TURNS: usize = 500;

/// A listening site and the reactor that runs it.
pub(crate) struct Server {
    pub(crate) reactor: Reactor,
    pub(crate) site: Site,
    pub(crate) address: Address,
    _port: Port,
}

impl Server {
    /// Serves `root` with the default configuration on a system-clock reactor.
    pub(crate) fn start(root: Rc<dyn Resource>) -> Server {
        Server::start_with(new_reactor(), root, SiteConfig::default())
    }

    /// Serves `root` with `config` on `reactor`.
    pub(crate) fn start_with(
        reactor: Reactor,
        root: Rc<dyn Resource>,
        config: SiteConfig,
    ) -> Server {
        let site = Site::with_config(reactor.clock().clone(), root, config);
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let port = listen_tcp(&reactor, any_port, &ListenOptions::default(), site.clone())
            .expect("listen on 127.0.0.1");
        let address = port.address();
        Server {
            reactor,
            site,
            address,
            _port: port,
        }
    }

    /// Serves `root` from a listener whose accepted sockets have a fixed,
    /// small kernel send buffer (so back-pressure reaches the server soon).
    pub(crate) fn start_with_send_buffer(root: Rc<dyn Resource>, send_buffer: usize) -> Server {
        let reactor = new_reactor();
        let site = Site::new(reactor.clock().clone(), root);
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("listening socket");
        socket
            .set_send_buffer_size(send_buffer)
            .expect("small send buffer");
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        socket.bind(&any_port.into()).expect("bind 127.0.0.1");
        socket.listen(16).expect("listen");
        let port = adopt_listener(&reactor, socket.into_raw_fd(), site.clone()).expect("adopt");
        let address = port.address();
        Server {
            reactor,
            site,
            address,
            _port: port,
        }
    }

    /// The listening socket address.
    pub(crate) fn socket_address(&self) -> SocketAddr {
        self.address.tcp().expect("a TCP listener")
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.socket_address())
    }

    /// Sends `request` on a new connection and turns the reactor until
    /// `count` responses arrived (or the connection ended); returns them.
    pub(crate) fn exchange(&self, request: &[u8], count: usize) -> Vec<Response> {
        let mut peer = Peer::connect(&self.address);
        peer.send(request);
        self.await_responses(&mut peer, count)
    }

    /// Turns the reactor until `peer` received `count` responses or ended.
    pub(crate) fn await_responses(&self, peer: &mut Peer, count: usize) -> Vec<Response> {
        turn_until(&self.reactor, MAX_TURNS, || {
            peer.pump();
            peer.ended() || parse_responses(&peer.received).len() >= count
        });
        parse_responses(&peer.received)
    }

    /// Runs `job` on another thread while turning the reactor; returns its result.
    pub(crate) fn run_beside<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let handle: JoinHandle<T> = thread::spawn(job);
        turn_until(&self.reactor, MAX_TURNS, || handle.is_finished());
        handle.join().expect("the side thread panicked")
    }
}

/// A leaf resource rendering with a closure.
pub(crate) struct FnResource {
    render: Box<dyn Fn(&Request) -> Render>,
    methods: Vec<Method>,
}

impl FnResource {
    /// A GET-only leaf.
    pub(crate) fn new(render: impl Fn(&Request) -> Render + 'static) -> Rc<FnResource> {
        Rc::new(FnResource {
            render: Box::new(render),
            methods: vec![Method::Get],
        })
    }

    /// A leaf accepting `methods`.
    pub(crate) fn with_methods(
        methods: Vec<Method>,
        render: impl Fn(&Request) -> Render + 'static,
    ) -> Rc<FnResource> {
        Rc::new(FnResource {
            render: Box::new(render),
            methods,
        })
    }
}

impl Resource for FnResource {
    fn is_leaf(&self) -> bool {
        true
    }

    fn allowed_methods(&self) -> &[Method] {
        &self.methods
    }

    fn render(&self, request: &Request) -> Render {
        (self.render)(request)
    }
}

/// A shared, growable record for tests.
pub(crate) type Record<T> = Rc<RefCell<Vec<T>>>;

/// A `Write` sink whose bytes a test can read back (for the access log).
#[derive(Clone, Default)]
pub(crate) struct SharedBuffer(pub(crate) Rc<RefCell<Vec<u8>>>);

impl SharedBuffer {
    /// Everything written so far, as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs curl with `args`; `None` (and a message) if curl is not installed.
pub(crate) fn curl(server: &Server, args: &[&str]) -> Option<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let output = server.run_beside(move || crate::binary::curl(10).args(&args).output());
    match output {
        Ok(output) => {
            assert!(output.status.success(), "curl failed: {output:?}");
            Some(String::from_utf8_lossy(&output.stdout).into_owned())
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            eprintln!("skipped: curl is not installed");
            None
        }
        Err(error) => panic!("running curl: {error}"),
    }
}

/// One parsed response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Every complete response at the start of `data` (bodies framed by
/// `Content-Length` or chunked; a response without either has no body).
pub(crate) fn parse_responses(data: &[u8]) -> Vec<Response> {
    let mut responses = Vec::new();
    let mut rest = data;
    while let Some((response, used)) = parse_response(rest, false) {
        responses.push(response);
        rest = &rest[used..];
    }
    responses
}

fn find(data: &[u8], needle: &[u8]) -> Option<usize> {
    data.windows(needle.len()).position(|w| w == needle)
}

fn parse_response(data: &[u8], no_body: bool) -> Option<(Response, usize)> {
    let head_end = find(data, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&data[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let mut pos = head_end + 4;
    if no_body {
        return Some((response, pos));
    }
    if response.header("transfer-encoding") == Some("chunked") {
        loop {
            let line_end = pos + find(&data[pos..], b"\r\n")?;
            let size_text = std::str::from_utf8(&data[pos..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            pos = line_end + 2;
            if size == 0 {
                pos += find(&data[pos..], b"\r\n")? + 2;
                break;
            }
            response.body.extend_from_slice(data.get(pos..pos + size)?);
            pos += size + 2;
        }
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().ok()?;
        response.body = data.get(pos..pos + length)?.to_vec();
        pos += length;
    }
    Some((response, pos))
}

/// Parses the response to a HEAD request at the start of `data`: its
/// `Content-Length` describes a body that is not sent.
pub(crate) fn parse_head_response(data: &[u8]) -> Option<Response> {
    parse_response(data, true).map(|(response, _)| response)
}
