//! A TCP proxy for fault tests: put it between a client and its server, then [`TcpProxy::cut`]
//! the network under the client and [`TcpProxy::restore`] it (modelled on the proxy of the
//! crates.io test suite). Plain threads, no async runtime: two per forwarded connection, one
//! per direction, plus one accepting.
//!
//! ```no_run
//! use bazaar_testdb::proxy::TcpProxy;
//!
//! let proxy = TcpProxy::start("127.0.0.1:5432".parse()?)?;
//! let url = format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port());
//! // ... connect through `url`, then:
//! proxy.cut(); // every connection through the proxy dies
//! proxy.restore(); // new connections get through again
//! # drop(url);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the proxy waits for the upstream server to accept a connection.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A proxy listening on a loopback port of its own and forwarding every connection to one
/// upstream address. Dropping it stops listening (the port is free once `drop` returns) and
/// closes every connection.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// What the proxy and its threads share.
#[derive(Debug)]
struct Shared {
    upstream: SocketAddr,
    /// Whether the network is cut. Changed only with `links` locked, so that a connection is
    /// either registered before a cut (and shut by it) or refused after it.
    cut: AtomicBool,
    /// Set by `drop`: the accept loop ends.
    stopping: AtomicBool,
    /// Connections forwarded so far.
    forwarded: AtomicUsize,
    /// Ids for `links`.
    next_id: AtomicU64,
    /// The open forwarded connections.
    links: Mutex<Vec<Link>>,
}

/// One forwarded connection: clones of both of its sockets, to shut them from outside.
#[derive(Debug)]
struct Link {
    id: u64,
    client: TcpStream,
    upstream: TcpStream,
}

impl Link {
    fn shut(&self) {
        shut_both(&self.client, &self.upstream);
    }
}

impl Shared {
    fn links(&self) -> MutexGuard<'_, Vec<Link>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        for client in listener.incoming() {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            // A failed accept (the peer gave up, or no file descriptors left) is not fatal.
            if let Ok(client) = client {
                self.forward(client);
            }
        }
        // The listener is dropped here: the port is free.
    }

    /// Connects `client` to the upstream server and starts copying, or closes it at once if
    /// the network is cut or the upstream server does not answer.
    fn forward(self: &Arc<Self>, client: TcpStream) {
        if self.cut.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        let Ok(upstream) = TcpStream::connect_timeout(&self.upstream, UPSTREAM_CONNECT_TIMEOUT)
        else {
            let _ = client.shutdown(Shutdown::Both);
            return;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let registered = {
            let mut links = self.links();
            if self.cut.load(Ordering::SeqCst) {
                false
            } else {
                match (client.try_clone(), upstream.try_clone()) {
                    (Ok(client), Ok(upstream)) => {
                        links.push(Link {
                            id,
                            client,
                            upstream,
                        });
                        true
                    }
                    _ => false,
                }
            }
        };
        if !registered {
            shut_both(&client, &upstream);
            return;
        }
        self.forwarded.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("tcp-proxy-{id}"))
            .spawn(move || shared.run_link(id, client, upstream));
        if spawned.is_err() {
            self.close_link(id);
        }
    }

    /// Copies both ways until both directions are done, then forgets the connection.
    fn run_link(&self, id: u64, client: TcpStream, upstream: TcpStream) {
        let (Ok(client_reader), Ok(upstream_writer)) = (client.try_clone(), upstream.try_clone())
        else {
            self.close_link(id);
            return;
        };
        let spawned = std::thread::Builder::new()
            .name(format!("tcp-proxy-{id}-up"))
            .spawn(move || pump(client_reader, upstream_writer));
        match spawned {
            Ok(to_upstream) => {
                pump(upstream, client);
                let _ = to_upstream.join();
                self.close_link(id);
            }
            Err(_) => self.close_link(id),
        }
    }

    /// Shuts connection `id` and forgets it.
    fn close_link(&self, id: u64) {
        let mut links = self.links();
        if let Some(position) = links.iter().position(|link| link.id == id) {
            links.swap_remove(position).shut();
        }
    }

    /// Shuts every open connection.
    fn shut_all(&self) {
        for link in self.links().iter() {
            link.shut();
        }
    }
}

/// Copies `from` to `to` until `from` ends, then passes the end on (half-close); a failure
/// either way kills the connection in both directions.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    match io::copy(&mut from, &mut to) {
        Ok(_) => {
            let _ = to.shutdown(Shutdown::Write);
        }
        Err(_) => shut_both(&from, &to),
    }
}

fn shut_both(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

impl TcpProxy {
    /// Listens on a free 127.0.0.1 port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            cut: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            forwarded: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            links: Mutex::new(Vec::new()),
        });
        let acceptor = std::thread::Builder::new()
            .name(format!("tcp-proxy-accept-{}", addr.port()))
            .spawn({
                let shared = Arc::clone(&shared);
                move || shared.accept_loop(listener)
            })?;
        Ok(TcpProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Cuts the network: shuts down every open connection (both directions, both sockets) and,
    /// until [`restore`](Self::restore), accepts new connections only to close them at once.
    pub fn cut(&self) {
        let links = self.shared.links();
        self.shared.cut.store(true, Ordering::SeqCst);
        for link in links.iter() {
            link.shut();
        }
    }

    /// Ends a [`cut`](Self::cut): new connections are forwarded again.
    pub fn restore(&self) {
        let _links = self.shared.links();
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    /// Whether the network is cut.
    pub fn is_cut(&self) -> bool {
        self.shared.cut.load(Ordering::SeqCst)
    }

    /// Number of connections accepted and forwarded so far.
    pub fn connections(&self) -> usize {
        self.shared.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop, which then sees `stopping` and drops the listener.
        let woken = TcpStream::connect_timeout(&self.addr, UPSTREAM_CONNECT_TIMEOUT).is_ok();
        if let Some(acceptor) = self.acceptor.take()
            && woken
        {
            let _ = acceptor.join();
        }
        self.shared.shut_all();
    }
}
