//! The graceful close of a site's HTTP/1.1 connections at shutdown (`Site::close_http1`):
//! idle connections close at once, requests already received are answered first, and no
//! timer needs to move for any of it.

use std::cell::Cell;
use std::rc::Rc;

use torsion::web::{Render, Request, SiteConfig};

use super::support::{FnResource, MAX_TURNS, Record, Server, parse_responses};
use crate::util::{Peer, fake_clock_reactor, turn_until};

/// A GET with keep-alive.
fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes()
}

/// An idle keep-alive connection closes at once; one whose request is still being answered
/// gets its response, with `Connection: close`, then closes; the Deferred fires once both are
/// gone, the fake clock never moving.
#[test]
fn idle_connections_close_and_waiting_requests_are_answered_first() {
    let (reactor, _clock) = fake_clock_reactor();
    let held: Record<Request> = Record::default();
    let holder = held.clone();
    let server = Server::start_with(
        reactor,
        FnResource::new(move |request| {
            if request.path() == b"/slow" {
                holder.borrow_mut().push(request.clone());
                return Render::NotDoneYet;
            }
            Render::Body(b"quick".to_vec())
        }),
        SiteConfig::default(),
    );
    let mut idle = Peer::connect(&server.address);
    idle.send(&get("/quick"));
    let answered = server.await_responses(&mut idle, 1);
    assert_eq!(answered[0].header("connection"), None);
    let mut busy = Peer::connect(&server.address);
    busy.send(&get("/slow"));
    turn_until(&server.reactor, MAX_TURNS, || {
        busy.pump();
        held.borrow().len() == 1
    });
    assert_eq!(server.site.http1_connection_count(), 2);

    let closed = Rc::new(Cell::new(false));
    let flag = closed.clone();
    let _closing = server.site.close_http1().add_callback(move |()| {
        flag.set(true);
        Ok(())
    });
    idle.read_to_end(&server.reactor);
    assert!(idle.ended());
    assert!(!busy.ended(), "closed with a request unanswered");
    assert!(!closed.get(), "fired with a connection open");

    let request = held.borrow()[0].clone();
    request.write(b"slow answer");
    request.finish();
    busy.read_to_end(&server.reactor);
    let responses = parse_responses(&busy.received);
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0].text(), "slow answer");
    assert_eq!(responses[0].header("connection"), Some("close"));
    turn_until(&server.reactor, MAX_TURNS, || closed.get());
    assert_eq!(server.site.http1_connection_count(), 0);
}

/// A connection opened after the close began is closed as soon as it opens, and with no
/// connection open the Deferred fires at once.
#[test]
fn connections_opened_later_close_too() {
    let (reactor, _clock) = fake_clock_reactor();
    let server = Server::start_with(
        reactor,
        FnResource::new(|_| Render::Body(b"hi".to_vec())),
        SiteConfig::default(),
    );
    let closed = Rc::new(Cell::new(false));
    let flag = closed.clone();
    let _closing = server.site.close_http1().add_callback(move |()| {
        flag.set(true);
        Ok(())
    });
    assert!(closed.get(), "nothing was open");
    let mut late = Peer::connect(&server.address);
    late.read_to_end(&server.reactor);
    assert!(late.ended());
    assert!(late.received.is_empty());
    assert_eq!(server.site.http1_connection_count(), 0);
}
