//! An HTTP/1.1 load generator, over TCP or TLS, that costs less per request than the servers
//! it drives:
//!
//! ```text
//! h1load URL [--connections 64] [--seconds 10] [--warmup 2] [--server-pid PID]
//!            [--label NAME] [--ca FILE] [--insecure]
//! ```
//!
//! URL is `http://HOST[:PORT]/PATH` or `https://HOST[:PORT]/PATH`. Every connection is kept
//! alive with exactly one `GET` in flight (a closed loop, like `wrk -t1 -c N`); the loop is in
//! `support/h1_client.rs`. After the warm-up, which is not counted, it counts for `--seconds`
//! and prints a summary and one line for scripts:
//!
//! ```text
//! RESULT requests_per_second=... requests=... errors=... non_2xx=... p50_us=... p99_us=...
//!        client_cpu=...% [server_cpu=...%] label=NAME
//! ```
//!
//! `https` trusts the system's certificate authorities, or only those of `--ca FILE`;
//! `--insecure` accepts any certificate (handshake signatures are still checked). Only
//! `http/1.1` is offered through ALPN. See benches/README.md.

#[path = "support/h1_client.rs"]
mod h1_client;
#[path = "support/h1_response.rs"]
mod h1_response;
#[path = "support/h1_tls.rs"]
mod h1_tls;
#[path = "support/latency_histogram.rs"]
mod latency_histogram;
#[path = "support/proc_stats.rs"]
mod proc_stats;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rustls::pki_types::ServerName;

use h1_client::{FAILURE_KINDS, LoadOptions, Outcome, Target};

const USAGE: &str = "usage: h1load URL [--connections 64] [--seconds 10] [--warmup 2] \
[--server-pid PID] [--label NAME] [--ca FILE] [--insecure]  \
(URL: http://HOST:PORT/PATH or https://HOST:PORT/PATH)";

/// Everything the command line says.
#[derive(Debug)]
struct Command {
    load: LoadOptions,
    url: String,
    label: String,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`: with nothing to measure, say how to use it.
    if args.is_empty() || args == ["--bench"] || args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let outcome = parse_command(&args).and_then(|command| {
        // Room for every connection, and for a replacement opened before the old one closes.
        let wanted = command.load.connections as u64 * 2 + 64;
        torsion::raise_open_files_limit(wanted)
            .map_err(|error| format!("cannot raise the open files limit: {error}"))?;
        let outcome = h1_client::run(&command.load).map_err(|error| error.to_string())?;
        report(&command, &outcome);
        verdict(&outcome)
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("h1load: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_command(args: &[String]) -> Result<Command, String> {
    let mut url = None;
    let mut load = LoadOptions {
        target: Target {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            request: Vec::new(),
            tls: None,
        },
        connections: 64,
        warmup: Duration::from_secs(2),
        measure: Duration::from_secs(10),
        server_pid: None,
    };
    let mut label = "unnamed".to_string();
    let mut ca = None;
    let mut insecure = false;
    let mut rest = args.iter().filter(|arg| *arg != "--bench");
    while let Some(arg) = rest.next() {
        if arg == "--insecure" {
            insecure = true;
            continue;
        }
        if !arg.starts_with("--") {
            if url.replace(arg.clone()).is_some() {
                return Err(usage_error(&format!("a second URL {arg:?}")));
            }
            continue;
        }
        let value = rest
            .next()
            .ok_or_else(|| usage_error(&format!("{arg} needs a value")))?;
        match arg.as_str() {
            "--connections" => load.connections = positive(arg, value)?,
            "--seconds" => load.measure = seconds(arg, value, false)?,
            "--warmup" => load.warmup = seconds(arg, value, true)?,
            "--server-pid" => load.server_pid = Some(process_id(value)?),
            "--label" => label = value.clone(),
            "--ca" => ca = Some(PathBuf::from(value)),
            _ => return Err(usage_error(&format!("unknown option {arg}"))),
        }
    }
    let url = url.ok_or_else(|| usage_error("missing URL"))?;
    load.target = target(&url, ca, insecure)?;
    Ok(Command { load, url, label })
}

fn positive(flag: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(usage_error(&format!(
            "{flag} wants a positive integer, not {value:?}"
        ))),
    }
}

fn seconds(flag: &str, value: &str, zero_allowed: bool) -> Result<Duration, String> {
    match value.parse::<f64>() {
        Ok(s) if s.is_finite() && (s > 0.0 || (zero_allowed && s == 0.0)) && s < 1e9 => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(usage_error(&format!(
            "{flag} wants a number of seconds, not {value:?}"
        ))),
    }
}

/// A process id whose CPU time can be read.
fn process_id(value: &str) -> Result<String, String> {
    if value.is_empty() || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(usage_error(&format!(
            "--server-pid wants a process id, not {value:?}"
        )));
    }
    proc_stats::cpu_seconds(value)
        .map_err(|error| format!("cannot read the CPU time of process {value}: {error}"))?;
    Ok(value.to_string())
}

fn usage_error(what: &str) -> String {
    format!("{what}\n{USAGE}")
}

/// The parts of a URL a request needs.
#[derive(Debug, PartialEq, Eq)]
struct Url<'a> {
    tls: bool,
    /// `host[:port]` as written, for the `Host` header.
    authority: &'a str,
    /// The host without IPv6 brackets, to resolve and to ask the certificate for.
    host: &'a str,
    port: u16,
    /// The path and query, at least `/`.
    path: String,
}

fn parse_url(text: &str) -> Result<Url<'_>, String> {
    let bad = |why: &str| format!("bad URL {text:?}: {why}");
    let (tls, rest) = if let Some(rest) = strip_prefix_ignore_case(text, "http://") {
        (false, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(text, "https://") {
        (true, rest)
    } else {
        return Err(bad("it must start with http:// or https://"));
    };
    let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = match path.strip_prefix('?') {
        Some(_) => format!("/{path}"),
        None if path.is_empty() => "/".to_string(),
        None => path.to_string(),
    };
    if let Some(byte) = path.bytes().find(|byte| !byte.is_ascii_graphic()) {
        return Err(bad(&format!(
            "byte {byte:#04x} in the path must be percent-encoded"
        )));
    }
    if authority.contains('@') {
        return Err(bad("user names and passwords are not supported"));
    }
    let (host, port) = split_host_port(authority).ok_or_else(|| bad("malformed host or port"))?;
    let port = match port {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| bad("bad port"))?,
        None if tls => 443,
        None => 80,
    };
    Ok(Url {
        tls,
        authority,
        host,
        port,
        path,
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → (host, port).
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    (!host.is_empty()).then_some((host, port))
}

/// Resolves the URL and builds the request and the TLS configuration.
fn target(text: &str, ca: Option<PathBuf>, insecure: bool) -> Result<Target, String> {
    let url = parse_url(text)?;
    if !url.tls && (ca.is_some() || insecure) {
        return Err(usage_error("--ca and --insecure are for https URLs"));
    }
    if ca.is_some() && insecure {
        return Err(usage_error("--ca and --insecure exclude each other"));
    }
    let address = (url.host, url.port)
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve {:?}: {error}", url.host))?
        .next()
        .ok_or_else(|| format!("{:?} has no address", url.host))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n\r\n",
        url.path, url.authority
    );
    let tls = match url.tls {
        false => None,
        true => {
            let name = ServerName::try_from(url.host.to_string())
                .map_err(|_| format!("{:?} is not a name a certificate can hold", url.host))?;
            Some((h1_tls::client_config(ca, insecure)?, name))
        }
    };
    Ok(Target {
        address,
        request: request.into_bytes(),
        tls,
    })
}

/// Prints the summary and the `RESULT` line.
fn report(command: &Command, outcome: &Outcome) {
    let tally = &outcome.tally;
    let seconds = outcome.elapsed.as_secs_f64().max(1e-9);
    let requests = tally.ok + tally.non_2xx;
    let rate = requests as f64 / seconds;
    let load = &command.load;
    let latency = &tally.latency;
    let quantile = |fraction| latency.quantile_us(fraction);
    let server_cpu = outcome
        .server_cpu
        .map(|cores| format!("{:.1}%", cores * 100.0));
    println!(
        "h1load {} ({}), {} connections, {seconds:.2} s measured after {:.2} s of warm-up",
        command.url,
        if load.target.tls.is_some() {
            "TLS"
        } else {
            "cleartext"
        },
        load.connections,
        load.warmup.as_secs_f64(),
    );
    println!(
        "  responses  {requests} ({rate:.0} per second): {} 2xx, {} other",
        tally.ok, tally.non_2xx
    );
    println!("  errors     {}", describe_errors(outcome));
    println!(
        "  latency    mean {:.0} us, p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us",
        latency.mean_us(),
        quantile(0.5),
        quantile(0.9),
        quantile(0.99),
        latency.max_us(),
    );
    println!(
        "  cpu        client {:.1}% of a core{}",
        outcome.client_cpu * 100.0,
        server_cpu
            .as_ref()
            .map_or(String::new(), |cpu| format!(", server {cpu}")),
    );
    println!(
        "RESULT requests_per_second={rate:.1} requests={requests} errors={} non_2xx={} \
         p50_us={:.0} p99_us={:.0} client_cpu={:.1}%{} label={}",
        tally.error_count(),
        tally.non_2xx,
        quantile(0.5),
        quantile(0.99),
        outcome.client_cpu * 100.0,
        server_cpu.map_or(String::new(), |cpu| format!(" server_cpu={cpu}")),
        command.label,
    );
}

fn describe_errors(outcome: &Outcome) -> String {
    let tally = &outcome.tally;
    let mut text = tally.error_count().to_string();
    let kinds: Vec<String> = FAILURE_KINDS
        .iter()
        .zip(tally.errors)
        .filter(|(_, count)| *count > 0)
        .map(|(kind, count)| format!("{kind} {count}"))
        .collect();
    if !kinds.is_empty() {
        text += &format!(" ({})", kinds.join(", "));
    }
    if let Some(first) = &tally.first_error {
        text += &format!("; first: {first}");
    }
    if outcome.live_connections == 0 {
        text += "; stopped early: no connection left";
    }
    text
}

/// Fails the run when no request succeeded.
fn verdict(outcome: &Outcome) -> Result<(), String> {
    let tally = &outcome.tally;
    if tally.ok > 0 {
        return Ok(());
    }
    let mut message = "every request failed".to_string();
    if let Some(status) = tally.first_non_2xx {
        message += &format!("; first response status {status}");
    }
    if let Some(error) = &tally.first_error {
        message += &format!("; first error: {error}");
    }
    if tally.first_non_2xx.is_none() && tally.first_error.is_none() {
        message += ": no response completed";
    }
    Err(message)
}
