//! TCP echo throughput: the torsion reactor against a plain mio loop, driven by a mio load
//! generator. One binary, three roles:
//!
//! ```text
//! echo server-torsion ADDR
//! echo server-mio ADDR [--short-read]
//! echo client ADDR [--connections 64] [--size 64] [--pipeline 1] [--seconds 10]
//!                  [--warmup 1] [--server-pid PID] [--label NAME]
//! ```
//!
//! Servers print `listening on ADDR` once ready and serve until killed (the torsion server
//! shuts down in order on SIGTERM). The client prints one `RESULT key=value ...` line.
//! `benches/run.sh echo` runs the whole comparison, Twisted included; see benches/README.md.

#[path = "support/load_client.rs"]
mod load_client;
#[path = "support/mio_echo.rs"]
mod mio_echo;
#[path = "support/mio_loop.rs"]
mod mio_loop;
#[path = "support/proc_stats.rs"]
mod proc_stats;
#[path = "support/torsion_echo.rs"]
mod torsion_echo;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use load_client::LoadOptions;
use torsion::reactor::Reactor;

const USAGE: &str = "usage: echo server-torsion ADDR | server-mio ADDR [--short-read] | \
client ADDR [--connections N] [--size BYTES] [--pipeline N] [--seconds S] [--warmup S] \
[--server-pid PID] [--label NAME]  (benches/run.sh runs the comparison)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("server-torsion") => address_arg(&args).and_then(serve_torsion),
        Some("server-mio") => address_arg(&args).and_then(|address| {
            let short_read = args.iter().any(|arg| arg == "--short-read");
            mio_echo::serve(address, short_read, announce)
        }),
        Some("client") => client_options(&args).and_then(|options| load_client::run(&options)),
        _ => {
            // Also what `cargo bench` runs (it passes `--bench`): nothing to measure alone.
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve_torsion(address: SocketAddr) -> io::Result<()> {
    let reactor = Reactor::new()?;
    let port = torsion_echo::listen(&reactor, address)?;
    println!("listening on {}", torsion_echo::bound_address(&port));
    io::stdout().flush()?;
    reactor.run().map_err(io::Error::other)
}

fn announce(address: SocketAddr) {
    println!("listening on {address}");
    let _ = io::stdout().flush();
}

fn address_arg(args: &[String]) -> io::Result<SocketAddr> {
    let text = args.get(1).ok_or_else(|| usage_error("missing ADDR"))?;
    text.parse()
        .map_err(|_| usage_error(&format!("bad address {text:?}")))
}

fn client_options(args: &[String]) -> io::Result<LoadOptions> {
    let mut options = LoadOptions {
        address: address_arg(args)?,
        connections: 64,
        size: 64,
        pipeline: 1,
        warmup: Duration::from_secs(1),
        measure: Duration::from_secs(10),
        server_pid: None,
        label: "unnamed".to_string(),
    };
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| usage_error(&format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--connections" => options.connections = positive(flag, value)?,
            "--size" => options.size = positive(flag, value)?,
            "--pipeline" => options.pipeline = positive(flag, value)?,
            "--seconds" => options.measure = seconds(flag, value)?,
            "--warmup" => options.warmup = seconds(flag, value)?,
            "--server-pid" => options.server_pid = Some(value.clone()),
            "--label" => options.label = value.clone(),
            _ => return Err(usage_error(&format!("unknown option {flag}"))),
        }
    }
    Ok(options)
}

fn positive(flag: &str, value: &str) -> io::Result<usize> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(usage_error(&format!("{flag} wants a positive integer"))),
    }
}

fn seconds(flag: &str, value: &str) -> io::Result<Duration> {
    match value.parse::<f64>() {
        Ok(s) if s >= 0.0 && s.is_finite() => Ok(Duration::from_secs_f64(s)),
        _ => Err(usage_error(&format!("{flag} wants seconds"))),
    }
}

fn usage_error(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what}\n{USAGE}"))
}
