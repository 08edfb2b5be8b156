//! The fault-test proxy forwards bytes both ways, cuts and restores the network, and frees its
//! port when dropped.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bazaar_testdb::proxy::TcpProxy;

/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(5);

/// An echo server on a loopback port, running until the test process ends.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = stream.try_clone().unwrap();
                let _ = io::copy(&mut reader, &mut stream);
            });
        }
    });
    addr
}

fn connect(proxy: &TcpProxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.addr()).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Sends `message` and reads it back.
fn round_trip(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).unwrap();
    let mut echoed = vec![0; message.len()];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(echoed, message);
}

/// Asserts that the connection is dead: a read ends (EOF) or fails, and does not time out.
fn assert_closed(stream: &mut TcpStream) {
    let started = Instant::now();
    let mut buffer = [0; 16];
    match stream.read(&mut buffer) {
        Ok(n) => assert_eq!(n, 0, "read bytes from a cut connection"),
        Err(error) => assert!(
            !matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "the connection stayed open: {error}"
        ),
    }
    assert!(started.elapsed() < PATIENCE, "the connection stayed open");
}

#[test]
fn bytes_round_trip_through_the_proxy() {
    let proxy = TcpProxy::start(echo_server()).unwrap();
    assert_eq!(proxy.addr().ip().to_string(), "127.0.0.1");
    assert_eq!(proxy.addr().port(), proxy.port());
    assert_eq!(proxy.connections(), 0);
    assert!(!proxy.is_cut());

    let mut first = connect(&proxy);
    round_trip(&mut first, b"hello");
    let large: Vec<u8> = (0..=255_u8).cycle().take(1 << 20).collect();
    round_trip(&mut first, &large);
    let mut second = connect(&proxy);
    round_trip(&mut second, b"second");
    round_trip(&mut first, b"still there");
    assert_eq!(proxy.connections(), 2);
}

#[test]
fn a_client_closing_its_side_is_passed_on() {
    let proxy = TcpProxy::start(echo_server()).unwrap();
    let mut client = connect(&proxy);
    client.write_all(b"last words").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    // The echo server sees the end, answers what it got and closes; so does the proxy.
    let mut echoed = Vec::new();
    client.read_to_end(&mut echoed).unwrap();
    assert_eq!(echoed, b"last words");
}

#[test]
fn a_cut_kills_open_connections_and_refuses_new_ones_until_restored() {
    let proxy = TcpProxy::start(echo_server()).unwrap();
    let mut open = connect(&proxy);
    round_trip(&mut open, b"before");

    proxy.cut();
    assert!(proxy.is_cut());
    assert_closed(&mut open);
    // The connection is not simply slow: writing to it fails too, sooner or later.
    let started = Instant::now();
    while open.write_all(b"anyone?").is_ok() {
        assert!(
            started.elapsed() < PATIENCE,
            "writes to a cut connection succeed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut refused = connect(&proxy);
    assert_closed(&mut refused);
    assert_eq!(
        proxy.connections(),
        1,
        "a connection was forwarded during the cut"
    );
    proxy.cut();
    assert!(proxy.is_cut(), "cutting twice");

    proxy.restore();
    assert!(!proxy.is_cut());
    let mut after = connect(&proxy);
    round_trip(&mut after, b"after");
    assert_eq!(proxy.connections(), 2);
}

#[test]
fn an_unreachable_upstream_closes_the_client_connection() {
    let upstream = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }; // Nothing listens there any more.
    let proxy = TcpProxy::start(upstream).unwrap();
    let mut client = connect(&proxy);
    assert_closed(&mut client);
    assert_eq!(proxy.connections(), 0);
}

#[test]
fn dropping_the_proxy_frees_its_port_and_closes_its_connections() {
    let proxy = TcpProxy::start(echo_server()).unwrap();
    let port = proxy.port();
    let mut open = connect(&proxy);
    round_trip(&mut open, b"ping");

    drop(proxy);

    assert_closed(&mut open);
    let error = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    TcpListener::bind(("127.0.0.1", port)).unwrap();
}
