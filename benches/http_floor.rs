//! The floor server of the WSGI benchmark: the least work an HTTP/1.1 server can do for the
//! benchmark's applications (see `support/http_floor.rs`), so that `benches/wsgi/run.sh` can
//! show the most its load generator drives on this machine.
//!
//! ```text
//! http_floor ADDR hello|big|echo
//! ```
//!
//! Prints `listening on ADDR` once ready and serves until killed.

#[path = "support/http_floor.rs"]
mod http_floor;
#[path = "support/mio_loop.rs"]
mod mio_loop;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

const USAGE: &str = "usage: http_floor ADDR hello|big|echo  (benches/wsgi/run.sh runs it)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`: with nothing to serve, say how to use it.
    let (Some(address), Some(mode)) = (args.first(), args.get(1)) else {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    };
    let Ok(address) = address.parse::<SocketAddr>() else {
        eprintln!("http_floor: {address:?} is not an address like 127.0.0.1:8080; {USAGE}");
        return ExitCode::FAILURE;
    };
    let Some(mode) = http_floor::Mode::parse(mode) else {
        eprintln!("http_floor: unknown application {mode:?}; {USAGE}");
        return ExitCode::FAILURE;
    };
    let served = http_floor::serve(address, mode, |bound| {
        println!("listening on {bound}");
        let _ = std::io::stdout().flush();
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http_floor: {error}");
            ExitCode::FAILURE
        }
    }
}
