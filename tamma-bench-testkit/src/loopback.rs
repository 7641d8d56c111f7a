//! A loopback server speaking OpenAI's chat-completions wire format, answering every
//! request after a fixed delay: the model server of the throughput benches, the queue
//! bench and the worker tests. [`start_server_with`] can also record each request's
//! `Authorization` header (what a key reached the server) and fail every request with an
//! error body that quotes that header back, as a careless server might.
//!
//! It is a minimal HTTP/1.1 keep-alive server on its own single-threaded runtime (its own
//! OS thread, as a separate process would be): it reads the headers and the
//! `Content-Length` body, waits, and answers a valid chat-completions body whose content
//! is `4`. A server framework would add its own overhead to what is measured. The delay
//! is kept by a thread of its own (`Alarm`), not by `tokio::time::sleep`: tokio's timer
//! has millisecond ticks and rounds a deadline up to the next one, which made a 20 ms
//! server answer after 21.3–21.5 ms.

#![allow(clippy::expect_used)] // test support: a failure is the test failing

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A chat-completions answer, as OpenAI sends it.
pub const BODY: &str = concat!(
    r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"#,
    r#""model":"bench-model","choices":[{"index":0,"message":{"role":"assistant","#,
    r#""content":"4"},"finish_reason":"stop"}],"#,
    r#""usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}}"#
);

/// What the loopback server has seen.
#[derive(Debug, Default)]
pub struct ServerLog {
    requests: AtomicU64,
    connections: AtomicU64,
    /// Sum over requests of the time from reading the request to writing the answer.
    answer_ns: AtomicU64,
    /// Each request's `Authorization` header (`None`: it had none), when recorded.
    authorizations: Mutex<Vec<Option<String>>>,
}

impl ServerLog {
    /// The `Authorization` header of each request, in order (`None` where a request had
    /// none); empty unless the server records them ([`ServerOptions::record_authorization`]).
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.authorizations
            .lock()
            .expect("the authorization log")
            .clone()
    }

    /// Requests answered (or being answered).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Connections accepted.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Mean time from reading a request to writing its answer, ms.
    pub fn mean_answer_ms(&self) -> f64 {
        self.answer_ns.load(Ordering::Relaxed) as f64 / 1e6 / self.requests().max(1) as f64
    }
}

/// Wakes tasks at their deadlines, to within the OS's timer slack (tens of µs).
///
/// One thread sleeps until the earliest deadline (a condition variable waits on a futex
/// with a nanosecond timeout) and is notified only when the queue was empty, so a request
/// costs no thread switch of its own. Deadlines come in order, since every one is
/// `now + delay` taken on the single server thread, so a queue keeps them sorted.
#[derive(Clone, Default)]
struct Alarm(Arc<(Mutex<VecDeque<Wakeup>>, Condvar)>);

/// A deadline and the task waiting for it.
type Wakeup = (Instant, oneshot::Sender<()>);

impl Alarm {
    /// An alarm with its thread, which ends when the last handle is dropped.
    fn start() -> Self {
        let alarm = Self::default();
        let shared = Arc::downgrade(&alarm.0);
        std::thread::spawn(move || {
            let mut due = Vec::new();
            while let Some(shared) = shared.upgrade() {
                let (queue, wakeup) = &*shared;
                let mut queue = queue.lock().expect("the alarm queue");
                let now = Instant::now();
                let next = queue.front().map(|(deadline, _)| *deadline);
                match next {
                    None => drop(wakeup.wait_timeout(queue, Duration::from_millis(100))),
                    Some(deadline) if deadline > now => {
                        drop(wakeup.wait_timeout(queue, deadline - now));
                    }
                    Some(_) => {
                        while queue.front().is_some_and(|(deadline, _)| *deadline <= now) {
                            due.extend(queue.pop_front());
                        }
                        drop(queue);
                        for (_, wake) in due.drain(..) {
                            let _ = wake.send(());
                        }
                    }
                }
            }
        });
        alarm
    }

    /// Waits until `deadline`.
    async fn until(&self, deadline: Instant) {
        let (wake, woken) = oneshot::channel();
        {
            let (queue, wakeup) = &*self.0;
            let mut queue = queue.lock().expect("the alarm queue");
            if queue.is_empty() {
                wakeup.notify_one();
            }
            queue.push_back((deadline, wake));
        }
        let _ = woken.await;
    }
}

/// How a loopback server answers.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The wait between reading a request and answering it.
    pub delay: Duration,
    /// The status of every answer: 200 answers [`BODY`]; any other status answers an
    /// OpenAI-style error body whose message quotes the request's `Authorization` header.
    pub status: u16,
    /// Whether to keep each request's `Authorization` header ([`ServerLog::authorizations`]).
    pub record_authorization: bool,
}

impl ServerOptions {
    /// Answers [`BODY`] after `delay`, recording nothing.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            status: 200,
            record_authorization: false,
        }
    }
}

/// Starts the server on its own thread and runtime; returns its address and its log.
/// It answers every request `delay` after reading it; it runs until the process ends.
pub fn start_server(delay: Duration) -> (SocketAddr, Arc<ServerLog>) {
    start_server_with(ServerOptions::new(delay))
}

/// Starts a server answering as `options` say (see [`start_server`]).
pub fn start_server_with(options: ServerOptions) -> (SocketAddr, Arc<ServerLog>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a server runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("binds a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    let log = Arc::new(ServerLog::default());
    let server_log = log.clone();
    let alarm = Alarm::start();
    std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                server_log.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(
                    stream,
                    server_log.clone(),
                    alarm.clone(),
                    options.clone(),
                ));
            }
        })
    });
    (addr, log)
}

/// Serves one keep-alive connection: one request at a time, each answered after the
/// options' delay.
async fn serve(mut stream: TcpStream, log: Arc<ServerLog>, alarm: Alarm, options: ServerOptions) {
    let _ = stream.set_nodelay(true);
    let ok = answer(200, BODY);
    let mut buf = Vec::with_capacity(4096);
    loop {
        // Headers, then as much body as `Content-Length` says.
        let (head, body_len) = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break (end + 4, content_length(&buf[..end]));
            }
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        };
        while buf.len() < head + body_len {
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        }
        let received = Instant::now();
        let authorization = (options.record_authorization || options.status != 200)
            .then(|| header(&buf[..head], "authorization"))
            .flatten();
        buf.drain(..head + body_len);
        log.requests.fetch_add(1, Ordering::Relaxed);
        if options.record_authorization {
            log.authorizations
                .lock()
                .expect("the authorization log")
                .push(authorization.clone());
        }
        let failure;
        let response = if options.status == 200 {
            &ok
        } else {
            let quoted = serde_json::to_string(&format!(
                "Incorrect API key provided: {}",
                authorization.as_deref().unwrap_or("(none)")
            ))
            .expect("a JSON string");
            let body = format!(
                r#"{{"error":{{"message":{quoted},"type":"invalid_request_error","code":"invalid_api_key"}}}}"#
            );
            failure = answer(options.status, &body);
            &failure
        };
        alarm.until(received + options.delay).await;
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
        let answered = u64::try_from(received.elapsed().as_nanos()).unwrap_or(u64::MAX);
        log.answer_ns.fetch_add(answered, Ordering::Relaxed);
    }
}

/// Reads what has arrived onto `buf`; false when the peer closed or failed.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    buf.reserve(4096);
    matches!(stream.read_buf(buf).await, Ok(n) if n > 0)
}

/// A complete HTTP/1.1 response of `status` with the JSON `body`.
fn answer(status: u16, body: &str) -> String {
    let reason = if status == 200 { "OK" } else { "Error" };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The value of header `name` in a request head.
fn header(head: &[u8], name: &str) -> Option<String> {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_owned())
}

/// The `Content-Length` of a request head (0 when absent).
fn content_length(head: &[u8]) -> usize {
    header(head, "content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_each_request_on_a_kept_alive_connection_after_the_delay() {
        let (addr, log) = start_server(Duration::from_millis(30));
        crate::block_on(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connects");
            let request =
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}";
            for n in 1..=2u64 {
                let sent = Instant::now();
                stream.write_all(request.as_bytes()).await.expect("writes");
                let mut buf = Vec::new();
                while !buf.ends_with(BODY.as_bytes()) {
                    assert!(read_more(&mut stream, &mut buf).await, "the server hung up");
                }
                assert!(sent.elapsed() >= Duration::from_millis(30));
                let text = String::from_utf8(buf).expect("utf-8");
                assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
                assert_eq!(log.requests(), n);
            }
            assert_eq!(log.connections(), 1);
            assert!(log.authorizations().is_empty(), "not recorded by default");
        });
    }

    #[test]
    fn records_authorization_headers_and_fails_quoting_them_when_asked() {
        let (addr, log) = start_server_with(ServerOptions {
            status: 401,
            record_authorization: true,
            ..ServerOptions::new(Duration::ZERO)
        });
        crate::block_on(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connects");
            for auth in ["authorization: Bearer sk-one\r\n", ""] {
                let request = format!(
                    "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n{auth}content-length: 2\r\n\r\n{{}}"
                );
                stream.write_all(request.as_bytes()).await.expect("writes");
                let mut buf = Vec::new();
                while !buf.ends_with(b"}}") {
                    assert!(read_more(&mut stream, &mut buf).await, "the server hung up");
                }
                let text = String::from_utf8(buf).expect("utf-8");
                assert!(text.starts_with("HTTP/1.1 401 "), "{text}");
                let quoted = if auth.is_empty() {
                    "(none)"
                } else {
                    "Bearer sk-one"
                };
                assert!(text.contains(quoted), "{text}");
            }
            assert_eq!(
                log.authorizations(),
                vec![Some("Bearer sk-one".to_owned()), None]
            );
        });
    }
}
