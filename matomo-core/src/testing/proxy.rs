//! `RecordingProxy`: an HTTP proxy on 127.0.0.1 for testing setups that reach Matomo through one.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest request head the proxy reads; a longer one closes the connection.
const MAX_HEAD: usize = 64 * 1024;

/// An HTTP proxy on 127.0.0.1 that records the head of the first request on each connection
/// (request line and headers, as sent, `Proxy-Authorization` included):
/// - `CONNECT host:port` opens a tunnel to the target;
/// - a request in absolute form (`POST http://host:port/path`) goes on to its host in origin form,
///   without `Proxy-Authorization`;
/// - after that, the connection is piped both ways as it is: later requests on a kept-alive
///   connection pass unrecorded.
///
/// It stops when dropped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use matomo_core::testing::{MockMatomo, RecordingProxy};
/// use matomo_core::{HyperTransport, TrackerConfig, TrackingRequest, Transport};
/// let matomo = MockMatomo::start().await;
/// let proxy = RecordingProxy::start().await;
/// let mut config = matomo.config();
/// config.proxy = Some(proxy.url().parse().unwrap());
/// let transport = HyperTransport::new(&config).unwrap();
/// assert_eq!(transport.proxy(), Some(proxy.url().as_str()));
/// let hit = TrackingRequest::builder(1).url("https://example.org/").build().unwrap();
/// transport.send(&[hit]).await.unwrap();
/// // An http:// Matomo: the proxy got the request itself, with its full URL.
/// assert!(proxy.heads()[0].starts_with(&format!("GET {}?", matomo.url())));
/// # }
/// ```
#[derive(Debug)]
pub struct RecordingProxy {
    port: u16,
    heads: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl RecordingProxy {
    /// Starts the proxy on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no port of 127.0.0.1 can be bound (a test machine without loopback).
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&heads);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, Arc::clone(&seen)));
            }
        });
        Self { port, heads, task }
    }

    /// Its URL, e.g. `http://127.0.0.1:41234`, for `proxy` or `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The heads of the connections' first requests so far, in order.
    pub fn heads(&self) -> Vec<String> {
        self.heads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one client connection.
async fn serve(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    seen.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(head.clone());
    let (line, headers) = head.split_once("\r\n").unwrap_or((head.as_str(), ""));
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method == "CONNECT" {
        let Ok(mut upstream) = TcpStream::connect(target).await else {
            return refuse(&mut client, "502 Bad Gateway").await;
        };
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .is_ok()
        {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
        return;
    }
    let Some((address, path)) = url::Url::parse(target).ok().and_then(|url| {
        let host = url.host_str()?.to_owned();
        let port = url.port_or_known_default()?;
        Some((
            format!("{host}:{port}"),
            url[url::Position::BeforePath..].to_owned(),
        ))
    }) else {
        return refuse(&mut client, "400 Bad Request").await;
    };
    let Ok(mut upstream) = TcpStream::connect(address).await else {
        return refuse(&mut client, "502 Bad Gateway").await;
    };
    let headers: String = headers
        .split_inclusive("\r\n")
        .filter(|header| {
            !header
                .to_ascii_lowercase()
                .starts_with("proxy-authorization:")
        })
        .collect();
    let forwarded = format!("{method} {path} HTTP/1.1\r\n{headers}");
    if upstream.write_all(forwarded.as_bytes()).await.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}

/// Answers the client with `status` (e.g. `502 Bad Gateway`) and an empty body, as a proxy does
/// when it cannot pass the request on.
async fn refuse(client: &mut TcpStream, status: &str) {
    let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
    let _ = client.write_all(answer.as_bytes()).await;
}

/// Reads a request head up to and including its blank line, byte by byte (so nothing of the body
/// is taken); `None` when the connection ends first or the head is too long.
async fn read_head(client: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD || client.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}
