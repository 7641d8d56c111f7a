//! Loopback servers: a scripted wiremock responder that records when requests arrive,
//! and a raw TCP server that never answers and reports when the client hangs up.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use wiremock::{Request, Respond, ResponseTemplate};

/// Answers the n-th request with the n-th response (the last one repeats) and records
/// the instant each request arrived (wiremock's own log has no timestamps).
#[derive(Clone)]
pub struct Script {
    responses: Vec<ResponseTemplate>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Script {
    /// Answers with `responses` in turn (at least one).
    pub fn new(responses: Vec<ResponseTemplate>) -> Self {
        assert!(!responses.is_empty());
        Self {
            responses,
            arrivals: Arc::default(),
        }
    }

    /// When each request arrived, in order.
    pub fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().expect("arrivals").clone()
    }
}

impl Respond for Script {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let mut arrivals = self.arrivals.lock().expect("arrivals");
        let n = arrivals.len();
        arrivals.push(Instant::now());
        self.responses[n.min(self.responses.len() - 1)].clone()
    }
}

/// What the silent server saw of its one connection.
pub struct SilentServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Fires when a whole request head has arrived.
    pub request_arrived: oneshot::Receiver<()>,
    /// Fires with `true` when the client closed the connection, `false` when it stayed
    /// open for 10 s.
    pub closed: oneshot::Receiver<bool>,
}

/// A TCP server on loopback that reads one HTTP request, never answers, and reports
/// whether and when the client closes the connection.
pub fn silent_server() -> SilentServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (arrived_tx, request_arrived) = oneshot::channel();
    let (closed_tx, closed) = oneshot::channel();
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        let mut arrived = Some(arrived_tx);
        let hung_up = loop {
            match socket.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(4).any(|w| w == b"\r\n\r\n")
                        && let Some(tx) = arrived.take()
                    {
                        let _ = tx.send(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(_) => break false,
            }
        };
        let _ = closed_tx.send(hung_up);
    });
    SilentServer {
        addr,
        request_arrived,
        closed,
    }
}

/// A loopback address nothing listens on.
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}
