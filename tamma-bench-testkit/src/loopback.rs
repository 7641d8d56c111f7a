//! A loopback server speaking OpenAI's chat-completions wire format, answering every
//! request after a fixed delay: the model server of the throughput benches, the queue
//! bench and the worker tests.
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
}

impl ServerLog {
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

/// Starts the server on its own thread and runtime; returns its address and its log.
/// It answers every request `delay` after reading it; it runs until the process ends.
pub fn start_server(delay: Duration) -> (SocketAddr, Arc<ServerLog>) {
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
                tokio::spawn(serve(stream, server_log.clone(), alarm.clone(), delay));
            }
        })
    });
    (addr, log)
}

/// Serves one keep-alive connection: one request at a time, each answered after `delay`.
async fn serve(mut stream: TcpStream, log: Arc<ServerLog>, alarm: Alarm, delay: Duration) {
    let _ = stream.set_nodelay(true);
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
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
        buf.drain(..head + body_len);
        log.requests.fetch_add(1, Ordering::Relaxed);
        alarm.until(received + delay).await;
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

/// The `Content-Length` of a request head (0 when absent).
fn content_length(head: &[u8]) -> usize {
    String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
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
        });
    }
}
