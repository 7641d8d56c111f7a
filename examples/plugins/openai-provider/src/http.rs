//! A minimal HTTP/1.1 client over tokio's `TcpStream`: one POST per connection
//! (`Connection: close`), plain `http://` only, bodies by `Content-Length`, chunked
//! transfer encoding, or until the server closes. Enough for loopback and local servers;
//! a plugin for the open internet would bring a TLS-capable client.

use tamma_bench_plugin::tokio::io::{AsyncReadExt, AsyncWriteExt};
use tamma_bench_plugin::tokio::net::TcpStream;

/// An `http://host[:port]/path` URL, split.
#[derive(Debug, Clone)]
pub struct Url {
    /// `host:port`, as dialled.
    pub authority: String,
    /// The host, for the `Host` header.
    pub host: String,
    /// The path prefix, without a trailing slash.
    pub path: String,
}

impl Url {
    /// Parses a base URL; only `http://` is accepted.
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("base_url {url:?}: this example plugin speaks plain http:// only")
        })?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(format!("base_url {url:?}: no host"));
        }
        let host = authority.to_owned();
        let authority = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let path = format!("/{}", path.trim_end_matches('/'));
        let path = path.trim_end_matches('/').to_owned();
        Ok(Self {
            authority,
            host,
            path,
        })
    }
}

/// A response: status, headers (names lowercased), body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
    }
}

/// Posts `body` to `path` on `url`'s server with extra `headers`.
pub async fn post(
    url: &Url,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(&url.authority).await?;
    stream.set_nodelay(true)?;
    let mut head = format!(
        "POST {}{path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n",
        url.path,
        url.host,
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    read_response(&mut stream).await
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

async fn read_response(stream: &mut TcpStream) -> std::io::Result<Response> {
    let mut buf = Vec::with_capacity(8192);
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(invalid("the connection closed before a response head"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut rest = buf.split_off(head_end + 4);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("a malformed status line"))?;
    let reason = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut response = Response {
        status,
        reason,
        headers,
        body: Vec::new(),
    };
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length = response
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    if chunked {
        stream.read_to_end(&mut rest).await?;
        response.body = dechunk(&rest)?;
    } else if let Some(length) = length {
        while rest.len() < length {
            if stream.read_buf(&mut rest).await? == 0 {
                return Err(invalid("the connection closed inside the body"));
            }
        }
        rest.truncate(length);
        response.body = rest;
    } else {
        stream.read_to_end(&mut rest).await?;
        response.body = rest;
    }
    Ok(response)
}

fn dechunk(mut data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| invalid("a truncated chunk size"))?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("a bad chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if data.len() < size {
            return Err(invalid("a truncated chunk"));
        }
        body.extend_from_slice(&data[..size]);
        data = data.get(size + 2..).unwrap_or_default();
    }
}
