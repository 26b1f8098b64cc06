//! Sending a file body: regions of the file go out with `sendfile(2)` where the connection
//! can; otherwise a pull producer reads one bounded chunk each time the connection's buffer
//! drains, so memory stays bounded however large the file and however slow the client.
//!
//! Tested by: reactor_tests/static_files/ (the slow-reader test)

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::rc::Rc;

use crate::transport::Producer;
use crate::web::Request;

/// Bytes read per chunk when the kernel cannot send the file itself.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// One stretch of a response body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Bytes made here (multipart headers).
    Bytes(Vec<u8>),
    /// `len` bytes of the file from `offset`.
    Region { offset: u64, len: u64 },
}

/// Sends `len` bytes of `file` from `offset` as the whole body of `request` and finishes it:
/// with `sendfile(2)` where the connection can, else read a chunk at a time.
pub(crate) fn send_region(request: &Request, file: Rc<File>, offset: u64, len: u64) {
    // The common case, one region the kernel sends, needs no list of pieces.
    if request.send_file(&file, offset, len) {
        request.finish();
    } else {
        read_pieces(
            request,
            file,
            VecDeque::from([Piece::Region { offset, len }]),
        );
    }
}

/// Sends `pieces` as the body of `request` and finishes it (now, or once a producer is done).
pub(crate) fn send(request: &Request, file: Rc<File>, pieces: Vec<Piece>) {
    let mut pieces = VecDeque::from(pieces);
    while let Some(piece) = pieces.pop_front() {
        match piece {
            Piece::Bytes(bytes) => request.write_owned(bytes),
            Piece::Region { offset, len } => {
                if !request.send_file(&file, offset, len) {
                    pieces.push_front(Piece::Region { offset, len });
                    return read_pieces(request, file, pieces);
                }
            }
        }
    }
    request.finish();
}

/// Sends `pieces` by reading the file: a pull producer writes one piece or chunk each time the
/// connection's buffer drains, then finishes the request.
fn read_pieces(request: &Request, file: Rc<File>, pieces: VecDeque<Piece>) {
    let reader = Rc::new(FileReader {
        request: request.clone(),
        file,
        pieces: RefCell::new(pieces),
    });
    request.register_producer(reader, false);
}

/// A pull producer: each `resume_producing` writes the next piece, reading at most
/// [`READ_CHUNK`] bytes of the file.
struct FileReader {
    request: Request,
    file: Rc<File>,
    pieces: RefCell<VecDeque<Piece>>,
}

enum Step {
    Write(Vec<u8>),
    Done,
    Failed(String),
}

impl FileReader {
    fn next_step(&self) -> Option<Step> {
        let mut pieces = self.pieces.try_borrow_mut().ok()?;
        let Some(piece) = pieces.front_mut() else {
            return Some(Step::Done);
        };
        let step = match piece {
            Piece::Bytes(bytes) => Step::Write(std::mem::take(bytes)),
            Piece::Region { offset, len } => {
                let want = usize::try_from(*len).unwrap_or(usize::MAX).min(READ_CHUNK);
                let mut chunk = vec![0; want];
                match self.file.read_at(&mut chunk, *offset) {
                    Ok(0) => Step::Failed("the file became shorter while being sent".into()),
                    Ok(n) => {
                        chunk.truncate(n);
                        *offset += n as u64;
                        *len -= n as u64;
                        Step::Write(chunk)
                    }
                    Err(error) => Step::Failed(format!("reading the file failed: {error}")),
                }
            }
        };
        let spent = match pieces.front() {
            Some(Piece::Bytes(bytes)) => bytes.is_empty(),
            Some(Piece::Region { len, .. }) => *len == 0,
            None => false,
        };
        if spent {
            pieces.pop_front();
        }
        Some(step)
    }
}

impl Producer for FileReader {
    fn resume_producing(&self) {
        match self.next_step() {
            None => {}
            Some(Step::Write(bytes)) => self.request.write_owned(bytes),
            Some(Step::Done) => {
                self.request.unregister_producer();
                self.request.finish();
            }
            Some(Step::Failed(message)) => {
                crate::log::error(format_args!(
                    "serving {}: {message}",
                    String::from_utf8_lossy(&self.request.uri())
                ));
                self.request.unregister_producer();
                self.request.processing_failed(&message);
            }
        }
    }

    fn stop_producing(&self) {
        if let Ok(mut pieces) = self.pieces.try_borrow_mut() {
            pieces.clear();
        }
    }
}
