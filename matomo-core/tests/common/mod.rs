//! Helpers shared by the integration tests.

/// An HTTP proxy on 127.0.0.1 that records each request head it gets: CONNECT opens a tunnel to its
/// target; a request in absolute form (`POST http://host:port/path`) goes on to its host in origin
/// form, without `Proxy-Authorization`, and the rest of the connection is piped both ways.
pub async fn recording_proxy() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&heads);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let seen = std::sync::Arc::clone(&seen);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                seen.lock().unwrap().push(head.clone());
                let (line, headers) = head.split_once("\r\n").unwrap_or_default();
                let mut words = line.split(' ');
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                if method == "CONNECT" {
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client
                        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                        .await;
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    return;
                }
                let Ok(url) = url::Url::parse(target) else {
                    let _ = client
                        .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                        .await;
                    return;
                };
                let address = format!(
                    "{}:{}",
                    url.host_str().unwrap_or_default(),
                    url.port_or_known_default().unwrap_or(80)
                );
                let Ok(mut upstream) = tokio::net::TcpStream::connect(address).await else {
                    return;
                };
                let path = &url[url::Position::BeforePath..];
                let headers: String = headers
                    .split_inclusive("\r\n")
                    .filter(|h| !h.to_ascii_lowercase().starts_with("proxy-authorization:"))
                    .collect();
                let forwarded = format!("{method} {path} HTTP/1.1\r\n{headers}");
                if upstream.write_all(forwarded.as_bytes()).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
            });
        }
    });
    (port, heads)
}
