//! The `torsion` command line: `torsion web --wsgi pkg.module.app` serves a WSGI application,
//! with Twisted's `twist web` option names where they exist.
//!
//! Every failure to start (a bad endpoint string, a port in use, an application that does not
//! import) is one line on standard error naming what to fix, and a non-zero exit.
//!
//! Tested by: reactor_tests/cli.rs

mod files;

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::defer::Deferred;
use crate::endpoints::{ServerEndpoint, listen_with_tls, parse_server};
use crate::reactor::{Phase, Reactor, Signal};
use crate::time::LoopingCall;
use crate::tls::{ServerTls, TlsOptions};
use crate::web::{
    AccessLog, ContentLimits, Resource, Site, SiteConfig, parse_added_header, spool_file,
};
use crate::wsgi::{WsgiApp, WsgiResource};

/// How long a graceful shutdown waits for requests still with the application.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Freed memory the allocator keeps before giving any back to the system.
const ALLOCATOR_TRIM_THRESHOLD: usize = 32 * 1024 * 1024;
/// Blocks up to this size come from the allocator's heaps (reused), larger ones are mapped.
const ALLOCATOR_MMAP_THRESHOLD: usize = 1024 * 1024;
/// How often the access log is written out.
const ACCESS_LOG_FLUSH: Duration = Duration::from_millis(500);

/// Twisted Web's WSGI container, rebuilt in Rust.
#[derive(Debug, Parser)]
#[command(name = "torsion", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a WSGI application or a directory over HTTP (as `twist web --wsgi` / `--path`).
    Web(WebOptions),
}

/// Options of `torsion web`.
#[derive(Debug, Args)]
pub struct WebOptions {
    /// Where to listen, as an endpoint string (tcp:8080, tcp:8080:interface=127.0.0.1,
    /// tcp6:8080, unix:/run/app.sock:mode=660, systemd:domain=INET:index=0,
    /// ssl:8443:privateKey=key.pem:certKey=cert.pem, sni:CERTDIR:tcp:443). Repeatable.
    /// [default: tcp:8080]
    #[arg(long = "listen", value_name = "ENDPOINT", value_parser = parse_endpoint)]
    listen: Vec<ServerEndpoint>,

    /// The WSGI application: a dotted name (mysite.wsgi.application) or module:attribute
    /// (app:app). The current directory is importable; an activated virtualenv is used.
    #[arg(long, value_name = "APP")]
    wsgi: Option<String>,

    /// Worker threads running the application.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    threads: u16,

    /// Access log in combined log format: a file path, or - for standard output.
    #[arg(short = 'l', long, value_name = "PATH", default_value = "-")]
    logfile: PathBuf,

    /// Largest request body accepted, in bytes (K, M and G suffixes allowed); larger requests
    /// get 413 before the application runs.
    #[arg(long, value_name = "SIZE", default_value = "10M", value_parser = parse_size)]
    max_request_body: usize,

    /// Request bodies larger than this, in bytes (K, M and G suffixes allowed), are kept in a
    /// temporary file instead of memory.
    #[arg(long, value_name = "SIZE", default_value = "1M", value_parser = parse_size)]
    spool_threshold: usize,

    /// The directory of those temporary files [default: $TMPDIR, or /tmp].
    #[arg(long, value_name = "DIR")]
    spool_directory: Option<PathBuf>,

    /// Do not write an access log.
    #[arg(long, conflicts_with = "logfile")]
    no_access_log: bool,

    /// Show error details (tracebacks) in 500 pages; keep off in production.
    #[arg(long)]
    display_tracebacks: bool,

    /// Serve HTTP/1.1 only: TLS offers only http/1.1 through ALPN, and cleartext HTTP/2
    /// (prior knowledge, Upgrade: h2c) is not taken up.
    #[arg(long)]
    no_http2: bool,

    /// Add a header to every response: "Name: Value". Repeatable.
    #[arg(long = "add-header", value_name = "NAME: VALUE", value_parser = parse_header)]
    add_header: Vec<(String, Vec<u8>)>,

    #[command(flatten)]
    files: files::FileArgs,
}

fn parse_endpoint(text: &str) -> Result<ServerEndpoint, String> {
    parse_server(text).map_err(|error| error.to_string())
}

/// A byte count such as `65536`, `512K`, `10M` or `1G`.
fn parse_size(text: &str) -> Result<usize, String> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => {
            return Err(format!(
                "{text:?} is not a size (a number with an optional K, M or G)"
            ));
        }
    };
    let number: usize = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (a number with an optional K, M or G)"))?;
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

fn parse_header(text: &str) -> Result<(String, Vec<u8>), String> {
    parse_added_header(text).map_err(|error| error.to_string())
}

/// Runs the command line; returns the process's exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if !error.use_stderr() => error.exit(), // --help, --version
        Err(error) => {
            eprintln!(
                "torsion: {} (see torsion web --help)",
                first_line(&error.to_string())
            );
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Web(options) => match serve(options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("torsion: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The message of a clap error, without its `error:` prefix and usage lines.
fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or(text);
    line.strip_prefix("error: ").unwrap_or(line)
}

fn serve(options: WebOptions) -> Result<(), String> {
    if options.wsgi.is_none() && !options.files.serves_files() {
        return Err(
            "nothing to serve: give an application with --wsgi pkg.module.app or a directory \
             with --path DIR"
                .into(),
        );
    }
    let resource = WsgiResource::new();
    let app_root = options
        .wsgi
        .is_some()
        .then(|| Rc::new(resource.clone()) as Rc<dyn Resource>);
    let root = options.files.root(app_root)?;
    let spec = match (&options.wsgi, &options.files.path) {
        (Some(spec), _) => spec.clone(),
        (None, Some(path)) => path.display().to_string(),
        (None, None) => "static files".to_string(),
    };
    // Response bodies are allocated and freed per request: keep their pages mapped.
    crate::sys::keep_freed_memory(ALLOCATOR_TRIM_THRESHOLD, ALLOCATOR_MMAP_THRESHOLD);
    let reactor = Reactor::new().map_err(|e| format!("cannot start the event loop: {e}"))?;
    spool_file(options.spool_directory.as_deref()).map_err(|error| {
        format!(
            "cannot make temporary files for request bodies ({error}); \
             give a writable directory with --spool-directory"
        )
    })?;
    let endpoints = if options.listen.is_empty() {
        vec![parse_endpoint("tcp:8080")?]
    } else {
        options.listen.clone()
    };
    // Watched before the application is imported (which may take a while): a SIGHUP meant
    // for the certificates must not end the process in the meantime.
    let certificates = Rc::new(RefCell::new(Vec::new()));
    if endpoints.iter().any(ServerEndpoint::is_tls) {
        reload_on_hangup(&reactor, certificates.clone())?;
    }
    let app = match options.wsgi.as_deref() {
        Some(spec) => Some(WsgiApp::load(spec).map_err(|error| error.to_string())?),
        None => None,
    };
    let config = SiteConfig {
        display_tracebacks: options.display_tracebacks,
        added_headers: options.add_header.clone(),
        body_limits: ContentLimits {
            max_size: options.max_request_body as u64,
            spool_threshold: options.spool_threshold as u64,
            spool_directory: options.spool_directory.clone(),
        },
        enable_http2: !options.no_http2,
        ..SiteConfig::default()
    };
    let site = Site::with_config(reactor.clock().clone(), root, config);
    if !options.no_access_log {
        let log = AccessLog::open(&options.logfile).map_err(|error| {
            format!(
                "cannot open the access log {}: {error}",
                options.logfile.display()
            )
        })?;
        site.set_access_log(Some(log));
        let flusher = site.clone();
        let flushing = LoopingCall::new(reactor.clock(), move || flusher.flush_access_log());
        let _ = flushing.start(ACCESS_LOG_FLUSH, false);
        let last = site.clone();
        reactor.add_system_event_trigger(Phase::After, "shutdown", move || {
            flushing.stop().ok();
            last.flush_access_log();
        });
    }
    let tls_options = if options.no_http2 {
        TlsOptions::http1_only()
    } else {
        TlsOptions::default()
    };
    let mut ports = Vec::new();
    for endpoint in &endpoints {
        let listening = listen_with_tls(&reactor, endpoint, &tls_options, site.clone())
            .map_err(|error| error.to_string())?;
        eprintln!("torsion: serving {spec} on {}", listening.port.address());
        ports.push(listening.port);
        let tls = listening.tls.map(|tls| (endpoint.to_string(), tls));
        certificates.borrow_mut().extend(tls);
    }
    if let Some(app) = app {
        start_workers(&reactor, &resource, app, options.threads);
    }
    stop_gracefully(&reactor, &resource, ports);
    drain_connections(&reactor, &site);
    reactor.run().map_err(|error| error.to_string())
}

/// On SIGHUP, reads every TLS endpoint's keys and certificates again: new connections use them,
/// open ones keep theirs; a bad file keeps the previous ones and says why. Called before the
/// application is imported: the reactor installs its signal handlers only when it starts, so
/// until then a SIGHUP is noted (rather than ending the process, its default action) and
/// handled once the reactor runs.
fn reload_on_hangup(
    reactor: &Reactor,
    certificates: Rc<RefCell<Vec<(String, ServerTls)>>>,
) -> Result<(), String> {
    let cannot = |error: std::io::Error| format!("cannot watch for SIGHUP: {error}");
    let early = Arc::new(AtomicBool::new(false));
    let noted = signal_hook::flag::register(libc::SIGHUP, early.clone()).map_err(cannot)?;
    let watched = certificates.clone();
    reactor
        .on_signal(Signal::Hangup, move || {
            reload_certificates(&watched.borrow())
        })
        .map_err(cannot)?;
    reactor.call_when_running(move || {
        signal_hook::low_level::unregister(noted);
        if early.load(Ordering::Relaxed) {
            reload_certificates(&certificates.borrow());
        }
    });
    Ok(())
}

/// Reloads each endpoint's certificates, saying in one line per endpoint how it went.
fn reload_certificates(certificates: &[(String, ServerTls)]) {
    for (endpoint, tls) in certificates {
        match tls.reload() {
            Ok(()) => eprintln!("torsion: reloaded the certificates of {endpoint}"),
            Err(error) => {
                eprintln!("torsion: kept the previous certificates of {endpoint}: {error}")
            }
        }
    }
}

/// Starts the worker pool once the reactor runs (after any fork, never before).
fn start_workers(reactor: &Reactor, resource: &WsgiResource, app: WsgiApp, threads: u16) {
    let (starter, resource) = (reactor.clone(), resource.clone());
    reactor.call_when_running(move || {
        if let Err(error) = resource.start(&starter, &app, usize::from(threads)) {
            eprintln!("torsion: cannot start the worker threads: {error}");
            let _ = starter.stop();
        }
    });
}

/// On shutdown: stop accepting, let requests in flight finish (up to a grace period), then
/// stop the workers.
fn stop_gracefully(reactor: &Reactor, resource: &WsgiResource, ports: Vec<crate::transport::Port>) {
    let (clock, draining) = (reactor.clock().clone(), resource.clone());
    reactor.add_system_event_trigger(Phase::Before, "shutdown", move || {
        for port in &ports {
            port.stop_listening();
        }
        draining
            .wait_for_idle()
            .add_timeout(SHUTDOWN_GRACE, &clock)
            .add_both(|_| Ok(()))
    });
    let stopping = resource.clone();
    reactor.add_system_event_trigger(Phase::After, "shutdown", move || {
        let busy = stopping.stop(Duration::from_secs(1));
        if busy > 0 {
            eprintln!("torsion: {busy} worker(s) were still running the application at exit");
        }
    });
}

/// On shutdown: HTTP/2 clients are sent GOAWAY and their streams in flight finish, and
/// HTTP/1.1 connections answer the requests they have received and close (idle ones at once,
/// with close_notify over TLS), all up to the grace period.
fn drain_connections(reactor: &Reactor, site: &Site) {
    let drains: [fn(&Site) -> Deferred<()>; 2] = [Site::drain_http2, Site::close_http1];
    for drain in drains {
        let (clock, site) = (reactor.clock().clone(), site.clone());
        reactor.add_system_event_trigger(Phase::Before, "shutdown", move || {
            drain(&site)
                .add_timeout(SHUTDOWN_GRACE, &clock)
                .add_both(|_| Ok(()))
        });
    }
}
