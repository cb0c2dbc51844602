//! How the transport reaches Matomo: directly, through an HTTP proxy's CONNECT tunnel (an
//! `https://` Matomo), or through an HTTP proxy that forwards each request (an `http://` Matomo).
//! Failures are marked so the transport can tell a DNS failure, and a failure of the proxy, from
//! Matomo's own.

use http::Uri;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::net::TcpStream;
use tower_service::Service;

/// Resolves names with getaddrinfo and marks failures as DNS failures.
#[derive(Clone)]
pub(crate) struct Resolver(pub(crate) GaiResolver);

#[derive(Debug)]
pub(crate) struct DnsError {
    pub(crate) host: String,
    pub(crate) message: String,
}

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not resolve {}: {}", self.host, self.message)
    }
}

impl std::error::Error for DnsError {}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Name> for Resolver {
    type Response = <GaiResolver as Service<Name>>::Response;
    type Error = DnsError;
    type Future = BoxFuture<Result<Self::Response, DnsError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        self.0.poll_ready(cx).map_err(|e| DnsError {
            host: String::new(),
            message: e.to_string(),
        })
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let lookup = self.0.call(name);
        Box::pin(async move {
            lookup.await.map_err(|e| DnsError {
                host,
                message: e.to_string(),
            })
        })
    }
}

/// Connects directly, through an HTTP proxy's CONNECT tunnel (an `https://` Matomo), or to an HTTP
/// proxy that forwards each request (an `http://` Matomo).
#[derive(Clone)]
pub(crate) enum Connector {
    Direct(HttpConnector<Resolver>),
    Tunnel(Tunnel<HttpConnector<Resolver>>),
    Forward {
        http: HttpConnector<Resolver>,
        /// The proxy, with its port.
        proxy: Uri,
    },
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A connection to Matomo, or to a proxy that forwards to it: then `proxied`, and the client writes
/// each request with its full URL (`POST http://matomo.example/matomo.php`).
pub(crate) struct Stream {
    io: TokioIo<TcpStream>,
    proxied: bool,
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.proxied)
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}

/// A failure reaching the proxy, marked as such for the diagnosis.
pub(crate) fn via_proxy(error: impl Into<BoxError>) -> BoxError {
    Box::new(ProxyError(error.into()))
}

impl Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = BoxFuture<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            Connector::Direct(c) | Connector::Forward { http: c, .. } => {
                c.poll_ready(cx).map_err(Into::into)
            }
            Connector::Tunnel(c) => c.poll_ready(cx).map_err(Into::into),
        }
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        match self {
            Connector::Direct(c) => {
                let connecting = c.call(dst);
                Box::pin(async move {
                    let io = connecting.await?;
                    Ok(Stream { io, proxied: false })
                })
            }
            Connector::Tunnel(c) => {
                // The tunnel assumes port 443 when the URI has none: name it.
                let dst = with_port(dst);
                let connecting = c.call(dst);
                Box::pin(async move {
                    let io = connecting.await.map_err(via_proxy)?;
                    Ok(Stream { io, proxied: false })
                })
            }
            Connector::Forward { http, proxy } => {
                let connecting = http.call(proxy.clone());
                Box::pin(async move {
                    let io = connecting.await.map_err(via_proxy)?;
                    Ok(Stream { io, proxied: true })
                })
            }
        }
    }
}

/// A failure on the way through the proxy (its source says what).
#[derive(Debug)]
pub(crate) struct ProxyError(BoxError);

impl std::fmt::Display for ProxyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("through the proxy")
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

pub(crate) fn with_port(uri: Uri) -> Uri {
    if uri.port().is_some() {
        return uri;
    }
    let port = if uri.scheme_str() == Some("http") {
        80
    } else {
        443
    };
    let Some(host) = uri.host() else { return uri };
    let authority = format!("{host}:{port}");
    let mut parts = uri.clone().into_parts();
    match authority.parse() {
        Ok(authority) => {
            parts.authority = Some(authority);
            Uri::from_parts(parts).unwrap_or(uri)
        }
        Err(_) => uri,
    }
}
