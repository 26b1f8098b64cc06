//! Memory per idle connection: the resident memory a server gains for each open, idle TCP
//! connection (user space only: the kernel's socket buffers are not in a process's RSS).
//!
//! ```text
//! idle_connections [drive] [--connections 10000] [--servers torsion,mio]
//! idle_connections server ADDR        the torsion echo server (SIGUSR1 prints its RSS)
//! idle_connections server-mio ADDR    the plain mio echo server, for reference
//! ```
//!
//! The driver raises its descriptor limit, starts each server as a child pinned to CPU 0 with
//! `taskset`, opens one warm-up connection (so one-off buffers are in the baseline), reads the
//! child's RSS, opens the connections one by one (each sends one byte and waits for its echo,
//! so the server has accepted it and run its protocol), waits for the server to settle, reads
//! the RSS again and prints one `RESULT key=value ...` line per server.

#[path = "support/mio_echo.rs"]
mod mio_echo;
#[path = "support/mio_loop.rs"]
mod mio_loop;
#[path = "support/proc_stats.rs"]
mod proc_stats;
#[path = "support/torsion_echo.rs"]
mod torsion_echo;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use torsion::reactor::{Reactor, Signal};

/// Descriptors the driver keeps beyond one per connection.
const SPARE_DESCRIPTORS: u64 = 256;
/// How long the server is left alone before its memory is read.
const SETTLE: Duration = Duration::from_millis(500);

const USAGE: &str = "usage: idle_connections [drive] [--connections N] [--servers torsion,mio] \
| server ADDR | server-mio ADDR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("server") => address_arg(&args).and_then(serve_torsion),
        Some("server-mio") => address_arg(&args).and_then(|address| {
            mio_echo::serve(address, false, |bound| announce(&bound.to_string()))
        }),
        Some("drive") => drive(&args[1..]),
        // `cargo bench` passes `--bench`.
        Some("--bench") | None => drive(&[]),
        Some(_) => drive(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("idle_connections: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve_torsion(address: SocketAddr) -> io::Result<()> {
    let reactor = Reactor::new()?;
    let port = torsion_echo::listen(&reactor, address)?;
    reactor.on_signal(Signal::User1, print_own_rss)?;
    announce(&torsion_echo::bound_address(&port));
    reactor.run().map_err(io::Error::other)
}

fn print_own_rss() {
    match proc_stats::resident_bytes("self") {
        Ok(bytes) => println!("rss_bytes={bytes}"),
        Err(error) => eprintln!("cannot read own RSS: {error}"),
    }
}

fn announce(address: &str) {
    println!("listening on {address}");
    let _ = io::stdout().flush();
}

fn address_arg(args: &[String]) -> io::Result<SocketAddr> {
    let text = args.get(1).ok_or_else(|| invalid_input("missing ADDR"))?;
    text.parse()
        .map_err(|_| invalid_input(&format!("bad address {text:?}")))
}

fn invalid_input(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{what}\n{USAGE}"))
}

/// What the driver measures.
struct DriveOptions {
    connections: usize,
    servers: Vec<String>,
}

fn drive_options(args: &[String]) -> io::Result<DriveOptions> {
    let mut options = DriveOptions {
        connections: 10_000,
        servers: vec!["torsion".to_string(), "mio".to_string()],
    };
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let value = rest
            .next()
            .ok_or_else(|| invalid_input(&format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--connections" => {
                options.connections = value
                    .parse()
                    .map_err(|_| invalid_input("--connections wants a count"))?;
            }
            "--servers" => options.servers = value.split(',').map(str::to_string).collect(),
            _ => return Err(invalid_input(&format!("unknown option {flag}"))),
        }
    }
    Ok(options)
}

fn drive(args: &[String]) -> io::Result<()> {
    let options = drive_options(args)?;
    let wanted = options.connections as u64 + SPARE_DESCRIPTORS;
    let limit = torsion::raise_open_files_limit(wanted)?;
    if limit < wanted {
        return Err(io::Error::other(format!(
            "open-files limit is {limit}, {wanted} needed"
        )));
    }
    for server in &options.servers {
        let subcommand = match server.as_str() {
            "torsion" => "server",
            "mio" => "server-mio",
            other => return Err(invalid_input(&format!("unknown server {other:?}"))),
        };
        measure_server(server, subcommand, options.connections)?;
    }
    Ok(())
}

/// A server child process, killed when dropped.
struct ServerProcess {
    child: Child,
    address: SocketAddr,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(subcommand: &str) -> io::Result<ServerProcess> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(exe)
        .args([subcommand, "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("no stdout"))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let address = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|text| text.parse().ok());
    match address {
        Some(address) => Ok(ServerProcess { child, address }),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(io::Error::other(format!("server said {line:?}")))
        }
    }
}

/// Opens a connection and waits for the echo of one byte.
fn open_echoed(address: SocketAddr) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(address)?;
    stream.write_all(b"x")?;
    let mut echo = [0u8; 1];
    stream.read_exact(&mut echo)?;
    Ok(stream)
}

fn measure_server(name: &str, subcommand: &str, connections: usize) -> io::Result<()> {
    let server = start_server(subcommand)?;
    let pid = server.child.id().to_string();
    let warm_up = open_echoed(server.address)?;
    std::thread::sleep(SETTLE);
    let before = proc_stats::resident_bytes(&pid)?;
    let mut open = Vec::with_capacity(connections);
    for _ in 0..connections {
        open.push(open_echoed(server.address)?);
    }
    std::thread::sleep(SETTLE);
    let after = proc_stats::resident_bytes(&pid)?;
    let per_connection = after.saturating_sub(before) as f64 / connections.max(1) as f64;
    println!(
        "RESULT bench=idle server={name} connections={connections} rss_before_kib={} \
         rss_after_kib={} bytes_per_connection={per_connection:.0}",
        before / 1024,
        after / 1024,
    );
    drop(server);
    drop(open);
    drop(warm_up);
    Ok(())
}
