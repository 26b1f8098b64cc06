//! The load generator: closed-loop echo clients on one mio loop.
//!
//! Every connection keeps `pipeline` messages of `size` bytes in flight: each time a full echo
//! of one message is back, the next one is sent. The first `warmup` is not counted; then
//! messages and their round-trip latencies are counted for `measure`. The loop reads with one
//! 64 KiB buffer, stops reading a socket on a short read and reads the clock once per read, so
//! that it costs less than the servers it drives.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use crate::proc_stats;

const READ_BUFFER_SIZE: usize = 64 * 1024;
/// How long to retry connecting while the server starts.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// What to run.
pub(crate) struct LoadOptions {
    pub(crate) address: SocketAddr,
    pub(crate) connections: usize,
    pub(crate) size: usize,
    pub(crate) pipeline: usize,
    pub(crate) warmup: Duration,
    pub(crate) measure: Duration,
    /// The server's process id, to report how busy it was.
    pub(crate) server_pid: Option<String>,
    /// The server's name in the result line.
    pub(crate) label: String,
}

/// One client connection.
struct Client {
    stream: TcpStream,
    /// When each message in flight was queued, oldest first.
    sent_at: VecDeque<Instant>,
    /// Bytes received of the message whose echo is arriving.
    partial: usize,
    /// Bytes queued and not yet written.
    unsent: usize,
}

/// Messages completed in the measured window, and their latencies in nanoseconds.
struct Tally {
    measuring: bool,
    latencies: Vec<u32>,
}

impl Tally {
    fn record(&mut self, sent: Instant, now: Instant) {
        if self.measuring {
            let nanos = now.saturating_duration_since(sent).as_nanos();
            self.latencies
                .push(u32::try_from(nanos).unwrap_or(u32::MAX));
        }
    }
}

/// CPU seconds used by the server and by this process, read at one moment.
struct CpuReading {
    server: Option<f64>,
    client: f64,
}

/// Runs the load and prints one `RESULT` line.
pub(crate) fn run(options: &LoadOptions) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut clients = connect_all(options, &poll)?;
    let payload = vec![b'x'; options.size * options.pipeline];
    let mut buffer = vec![0; READ_BUFFER_SIZE];
    let mut events = Events::with_capacity(1024);
    let mut tally = Tally {
        measuring: false,
        latencies: Vec::with_capacity(1 << 20),
    };
    let start = clock();
    for client in &mut clients {
        queue_messages(client, options.size, options.pipeline, start);
        write_unsent(client, &payload)?;
    }
    let measure_from = start + options.warmup;
    let end = measure_from + options.measure;
    let mut cpu_before = None;
    loop {
        let now = clock();
        if cpu_before.is_none() && now >= measure_from {
            cpu_before = Some((now, read_cpu(options)?));
            tally.measuring = true;
        }
        if now >= end {
            break;
        }
        let next_stop = if tally.measuring { end } else { measure_from };
        match poll.poll(&mut events, Some(next_stop - now)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
        for event in events.iter() {
            let client = &mut clients[event.token().0];
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                read_echoes(client, &mut buffer, options.size, &mut tally)?;
            }
            write_unsent(client, &payload)?;
        }
    }
    let (measured_at, before) = cpu_before.unwrap_or((end, read_cpu(options)?));
    let after = read_cpu(options)?;
    let elapsed = clock().saturating_duration_since(measured_at);
    report(options, &mut tally.latencies, elapsed, &before, &after);
    Ok(())
}

fn connect_all(options: &LoadOptions, poll: &Poll) -> io::Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(options.connections);
    for index in 0..options.connections {
        let stream = connect_patiently(options.address)?;
        stream.set_nonblocking(true)?;
        stream.set_nodelay(true)?;
        let mut stream = TcpStream::from_std(stream);
        let interest = Interest::READABLE | Interest::WRITABLE;
        poll.registry()
            .register(&mut stream, Token(index), interest)?;
        clients.push(Client {
            stream,
            sent_at: VecDeque::with_capacity(options.pipeline),
            partial: 0,
            unsent: 0,
        });
    }
    Ok(clients)
}

#[allow(clippy::disallowed_methods)]
fn connect_patiently(address: SocketAddr) -> io::Result<std::net::TcpStream> {
    let give_up = Instant::now() + CONNECT_PATIENCE;
    loop {
        match std::net::TcpStream::connect(address) {
            Ok(stream) => return Ok(stream),
            Err(error) if Instant::now() < give_up => {
                if error.kind() != io::ErrorKind::ConnectionRefused {
                    return Err(error);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Reads the monotonic clock (benches time themselves).
#[allow(clippy::disallowed_methods)]
fn clock() -> Instant {
    Instant::now()
}

fn queue_messages(client: &mut Client, size: usize, count: usize, now: Instant) {
    for _ in 0..count {
        client.sent_at.push_back(now);
    }
    client.unsent += size * count;
}

/// Reads until the socket is drained; each complete echo is counted and replaced by a new
/// message.
fn read_echoes(
    client: &mut Client,
    buffer: &mut [u8],
    size: usize,
    tally: &mut Tally,
) -> io::Result<()> {
    loop {
        match client.stream.read(buffer) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed",
                ));
            }
            Ok(n) => {
                let now = clock();
                client.partial += n;
                while client.partial >= size {
                    client.partial -= size;
                    if let Some(sent) = client.sent_at.pop_front() {
                        tally.record(sent, now);
                    }
                    queue_messages(client, size, 1, now);
                }
                if n < buffer.len() {
                    return Ok(());
                }
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

fn write_unsent(client: &mut Client, payload: &[u8]) -> io::Result<()> {
    while client.unsent > 0 {
        let chunk = client.unsent.min(payload.len());
        match client.stream.write(&payload[..chunk]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => client.unsent -= n,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

fn read_cpu(options: &LoadOptions) -> io::Result<CpuReading> {
    let server = match &options.server_pid {
        Some(pid) => Some(proc_stats::cpu_seconds(pid)?),
        None => None,
    };
    Ok(CpuReading {
        server,
        client: proc_stats::cpu_seconds("self")?,
    })
}

fn report(
    options: &LoadOptions,
    latencies: &mut [u32],
    elapsed: Duration,
    before: &CpuReading,
    after: &CpuReading,
) {
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let messages = latencies.len();
    let mean_us = if messages == 0 {
        0.0
    } else {
        latencies.iter().map(|&n| f64::from(n)).sum::<f64>() / messages as f64 / 1000.0
    };
    let p99_us = percentile(latencies, 0.99) / 1000.0;
    let server_cpu = match (before.server, after.server) {
        (Some(a), Some(b)) => format!("{:.2}", (b - a) / seconds),
        _ => "na".to_string(),
    };
    let client_cpu = (after.client - before.client) / seconds;
    println!(
        "RESULT bench=echo server={} connections={} size={} pipeline={} seconds={seconds:.2} \
         messages={messages} msgs_per_sec={:.0} mean_us={mean_us:.1} p99_us={p99_us:.1} \
         server_cpu={server_cpu} client_cpu={client_cpu:.2}",
        options.label,
        options.connections,
        options.size,
        options.pipeline,
        messages as f64 / seconds,
    );
}

fn percentile(latencies: &mut [u32], fraction: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let rank = ((latencies.len() as f64 * fraction) as usize).min(latencies.len() - 1);
    let (_, value, _) = latencies.select_nth_unstable(rank);
    f64::from(*value)
}
