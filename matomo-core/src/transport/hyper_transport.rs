//! `HyperTransport`: the real HTTP transport, on hyper 1, hyper-util and rustls.

use super::answer::{read_bulk, read_single, Answer};
use super::connect::{with_port, Connector, DnsError, ProxyError, Resolver};
use super::{bulk_body, single_form_body, Accepted, TimeoutPhase, Transport, TransportError};
use crate::config::{ConfigError, Proxy, TrackerConfig};
use crate::request::TrackingRequest;
use crate::secret::TokenAuth;
use async_trait::async_trait;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, PROXY_AUTHORIZATION, RETRY_AFTER, USER_AGENT};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::dns::GaiResolver;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// How many bytes of an answer are read at most.
const MAX_ANSWER: usize = 256 * 1024;

/// Sends hits over HTTP(S) with connection reuse, timeouts, an optional proxy and TLS through rustls
/// (the public web roots plus `tls_ca_file`; certificate checks are never off).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use matomo_core::{HyperTransport, TrackerConfig, TrackingRequest, Transport};
/// let config = TrackerConfig::new("https://matomo.example.org/matomo.php", 1).unwrap();
/// let transport = HyperTransport::new(&config)?;
/// let hit = TrackingRequest::builder(1).url("https://example.org/").build()?;
/// let accepted = transport.send(&[hit]).await?;
/// assert_eq!(accepted.tracked, 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HyperTransport {
    client: Client<HttpsConnector<Connector>, Full<Bytes>>,
    uri: Uri,
    endpoint: String,
    /// The endpoint as errors name it: with the proxy when there is one, since its failures and
    /// answers come back as Matomo's.
    described: String,
    host: String,
    token: Option<TokenAuth>,
    /// The proxy hits go through, as `scheme://host:port` (never with credentials).
    proxy: Option<String>,
    /// `Proxy-Authorization` for a proxy that forwards plain-HTTP requests (a secret: never shown).
    proxy_auth: Option<HeaderValue>,
    timeout: Duration,
    connect_timeout: Duration,
}

impl std::fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperTransport")
            .field("endpoint", &self.endpoint)
            .field("proxy", &self.proxy)
            .field("token", &self.token)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HyperTransport {
    /// A transport for `config` (its `url`, `token_auth`, `timeout`, `connect_timeout`,
    /// `tls_ca_file` and `proxy`; without `proxy`, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` decide).
    pub fn new(config: &TrackerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let endpoint_url = config.url.as_ref().ok_or(ConfigError::Missing {
            key: "url",
            fix: "set url to your Matomo tracker endpoint, e.g. https://matomo.example.org/matomo.php",
        })?;
        let uri: Uri = endpoint_url
            .as_str()
            .parse()
            .map_err(|_| ConfigError::Invalid {
                key: "url".into(),
                message: "is not a valid HTTP URI".into(),
            })?;
        let host = endpoint_url.host_str().unwrap_or_default().to_owned();
        let endpoint = format!(
            "{}://{}:{}{}",
            endpoint_url.scheme(),
            host,
            endpoint_url.port_or_known_default().unwrap_or(0),
            endpoint_url.path()
        );

        let mut http = HttpConnector::new_with_resolver(Resolver(GaiResolver::new()));
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        let matcher = proxy_matcher(config.proxy.as_ref());
        let mut proxy_auth = None;
        let intercept = matcher.intercept(&uri);
        // Where the proxy is, without the credentials its URL may carry.
        let proxy = intercept.as_ref().map(|intercept| {
            let proxy = with_port(intercept.uri().clone());
            format!(
                "{}://{}:{}",
                proxy.scheme_str().unwrap_or("http"),
                proxy.host().unwrap_or_default(),
                proxy.port_u16().unwrap_or_default()
            )
        });
        let connector = match intercept {
            // A plain-HTTP Matomo: the proxy gets each request with its full URL, as HTTP proxies
            // expect (many refuse CONNECT to any port but 443).
            Some(intercept) if uri.scheme() == Some(&http::uri::Scheme::HTTP) => {
                proxy_auth = intercept.basic_auth().cloned().map(|mut auth| {
                    auth.set_sensitive(true);
                    auth
                });
                Connector::Forward {
                    http: http.clone(),
                    proxy: with_port(intercept.uri().clone()),
                }
            }
            Some(intercept) => {
                let mut tunnel = Tunnel::new(intercept.uri().clone(), http.clone());
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Connector::Tunnel(tunnel)
            }
            None => Connector::Direct(http),
        };
        let described = match &proxy {
            Some(proxy) => format!("{endpoint} via the proxy {proxy}"),
            None => endpoint.clone(),
        };
        let tls = tls_config(config)?;
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build(https);
        Ok(Self {
            client,
            uri,
            endpoint,
            described,
            host,
            token: config.token_auth.clone(),
            proxy,
            proxy_auth,
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
        })
    }

    /// Where hits go, as `scheme://host:port/path` (never with a token).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The proxy hits go through, as `scheme://host:port` (never with credentials): the `proxy`
    /// setting, or `HTTPS_PROXY`/`HTTP_PROXY` unless `NO_PROXY` exempts Matomo's host; `None` for
    /// a direct connection.
    ///
    /// ```
    /// use matomo_core::{HyperTransport, TrackerConfig};
    /// let mut config = TrackerConfig::new("https://matomo.example.org/matomo.php", 1).unwrap();
    /// config.proxy = Some("http://proxy.internal:3128".parse().unwrap());
    /// let transport = HyperTransport::new(&config).unwrap();
    /// assert_eq!(transport.proxy(), Some("http://proxy.internal:3128"));
    /// ```
    pub fn proxy(&self) -> Option<&str> {
        self.proxy.as_deref()
    }

    /// Sends a raw request to the endpoint and returns status, content type, `Retry-After` and body.
    /// `query` is appended to the URL; the body, if any, is posted with `content_type` (a
    /// `String` or a `Vec<u8>` turns into it with `.into()`).
    pub async fn exchange(
        &self,
        query: Option<&str>,
        body: Option<(Bytes, &'static str)>,
    ) -> Result<RawAnswer, TransportError> {
        let uri = match query {
            Some(query) => {
                let mut parts = self.uri.clone().into_parts();
                let path = self.uri.path();
                parts.path_and_query = Some(format!("{path}?{query}").parse().map_err(|_| {
                    TransportError::Protocol {
                        endpoint: self.described.clone(),
                        message: "the hit does not form a valid URI".into(),
                    }
                })?);
                Uri::from_parts(parts).map_err(|_| TransportError::Protocol {
                    endpoint: self.described.clone(),
                    message: "the hit does not form a valid URI".into(),
                })?
            }
            None => self.uri.clone(),
        };
        let (method, content_type, payload) = match body {
            Some((payload, content_type)) => (Method::POST, Some(content_type), payload),
            None => (Method::GET, None, Bytes::new()),
        };
        let mut request = Request::builder().method(method).uri(uri).header(
            USER_AGENT,
            HeaderValue::from_static(concat!("matomo-rs/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(auth) = &self.proxy_auth {
            request = request.header(PROXY_AUTHORIZATION, auth.clone());
        }
        let request = request
            .body(Full::new(payload))
            .map_err(|e| TransportError::Protocol {
                endpoint: self.described.clone(),
                message: format!("could not form the request: {e}"),
            })?;
        let work = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| self.classify(&e))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| TransportError::Protocol {
                    endpoint: self.described.clone(),
                    message: format!("the answer broke off or was too large: {e}"),
                })?
                .to_bytes();
            tracing::debug!(status, bytes = body.len(), "Matomo answered");
            Ok(RawAnswer {
                status,
                content_type: headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                retry_after: headers
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after),
                body,
            })
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout {
                phase: TimeoutPhase::Response,
                after: self.timeout,
                endpoint: self.described.clone(),
            }),
        }
    }

    fn classify(&self, error: &(dyn std::error::Error + 'static)) -> TransportError {
        let chain = error_chain(error);
        let via_proxy = chain.iter().any(|e| e.is::<ProxyError>());
        for current in &chain {
            if let Some(dns) = current.downcast_ref::<DnsError>() {
                return TransportError::Dns {
                    host: dns.host.clone(),
                    message: dns.message.clone(),
                    proxy: via_proxy,
                };
            }
            if let Some(tls) = current.downcast_ref::<rustls::Error>() {
                return self.tls_error(tls);
            }
        }
        let endpoint = self.described.clone();
        for current in &chain {
            if let Some(io) = current.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::TimedOut => {
                        return TransportError::Timeout {
                            phase: TimeoutPhase::Connect,
                            after: self.connect_timeout,
                            endpoint,
                        }
                    }
                    // Through a proxy, only the connection to the proxy can be refused here
                    // (the proxy's own to Matomo fails as its answer or the tunnel's).
                    std::io::ErrorKind::ConnectionRefused => {
                        let message = if via_proxy {
                            "the proxy refused the connection: nothing listens there; check the \
                             `proxy` setting or HTTPS_PROXY/HTTP_PROXY"
                        } else {
                            "connection refused: nothing listens there; check host and port in `url`"
                        };
                        return TransportError::Connect {
                            endpoint,
                            refused: true,
                            message: message.to_owned(),
                        };
                    }
                    _ => {}
                }
            }
        }
        let message = chain_text(error);
        let message = if via_proxy {
            format!("the proxy failed: {message}")
        } else {
            message
        };
        TransportError::Connect {
            endpoint,
            refused: false,
            message,
        }
    }

    fn tls_error(&self, error: &rustls::Error) -> TransportError {
        TransportError::Tls {
            host: self.host.clone(),
            message: error.to_string(),
        }
    }
}

/// An HTTP answer as it came back.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RawAnswer {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Retry-After`, in delay-seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
    /// The body (at most 256 KiB).
    pub body: Bytes,
}

impl RawAnswer {
    /// What came back, in words: `an HTML page titled "Sign in - Matomo"`, `43 bytes of image/gif`.
    pub fn describe(&self) -> String {
        self.view().describe()
    }

    fn view(&self) -> Answer<'_> {
        Answer {
            status: self.status,
            content_type: self.content_type.as_deref(),
            retry_after: self.retry_after,
            body: &self.body,
        }
    }
}

#[async_trait]
impl Transport for HyperTransport {
    async fn send(&self, hits: &[TrackingRequest]) -> Result<Accepted, TransportError> {
        let span =
            tracing::debug_span!("matomo.send", hits = hits.len(), endpoint = %self.described);
        self.send_batch(hits).instrument(span).await
    }
}

impl HyperTransport {
    async fn send_batch(&self, hits: &[TrackingRequest]) -> Result<Accepted, TransportError> {
        match hits {
            [] => Ok(Accepted::new(0)),
            [hit] => {
                let answer = match &self.token {
                    None => self.exchange(Some(&hit.to_query()), None).await?,
                    Some(token) => {
                        let body = single_form_body(hit, token);
                        self.exchange(
                            None,
                            Some((body.into(), "application/x-www-form-urlencoded")),
                        )
                        .await?
                    }
                };
                read_single(&answer.view(), &self.described)
            }
            many => {
                let body = bulk_body(many, self.token.as_ref());
                let answer = self
                    .exchange(None, Some((body.into(), "application/json")))
                    .await?;
                let all_cip = many.iter().all(|h| h.client_ip().is_some());
                read_bulk(&answer.view(), &self.described, many.len(), all_cip)
            }
        }
    }
}

/// Which proxy applies to which host: the `proxy` setting (`"none"`: no proxy at all), else
/// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`; `NO_PROXY` exempts hosts from either, and its `*` every
/// host, IP addresses included.
fn proxy_matcher(setting: Option<&Proxy>) -> Matcher {
    let no_proxy = ["NO_PROXY", "no_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .unwrap_or_default();
    if no_proxy.split(',').any(|entry| entry.trim() == "*") {
        return Matcher::builder().build();
    }
    match setting {
        Some(Proxy::Direct) => Matcher::builder().build(),
        Some(Proxy::Http(proxy)) => Matcher::builder()
            .all(proxy.as_str().to_owned())
            .no(no_proxy)
            .build(),
        None => Matcher::from_env(),
    }
}

fn tls_config(config: &TrackerConfig) -> Result<rustls::ClientConfig, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.tls_ca_file {
        let invalid = |message: String| ConfigError::Invalid {
            key: "tls_ca_file".into(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| invalid(format!("{} could not be read: {e}", path.display())))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                invalid(format!(
                    "{} is not a PEM certificate file: {e}",
                    path.display()
                ))
            })?;
        if certs.is_empty() {
            return Err(invalid(format!("{} holds no certificate", path.display())));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| {
                invalid(format!(
                    "{} holds a certificate rustls refuses: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Source(format!("TLS set-up failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tls)
}

/// The error and its sources, looking inside `io::Error`s that wrap another error.
fn error_chain<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        chain.push(current);
        next = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
        if chain.len() > 32 {
            break;
        }
    }
    chain
}

fn chain_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `Retry-After` as delay-seconds or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate_parse(value)?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

fn httpdate_parse(value: &str) -> Option<std::time::SystemTime> {
    httpdate::parse_http_date(value).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::connect::via_proxy;

    #[derive(Debug)]
    struct Outer(DnsError);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[tokio::test]
    async fn a_failed_lookup_is_classified_as_dns() {
        let transport = HyperTransport::new(
            &TrackerConfig::new("https://matomo.example/matomo.php", 1).unwrap(),
        )
        .unwrap();
        let error = Outer(DnsError {
            host: "matomo.example".into(),
            message: "failed to lookup address information".into(),
        });
        let classified = transport.classify(&error);
        assert!(
            matches!(&classified, TransportError::Dns { host, .. } if host == "matomo.example"),
            "{classified:?}"
        );
        assert!(classified.is_retryable());
        assert!(
            classified.to_string().contains("check the host name"),
            "{classified}"
        );
        // Through a proxy, the host this machine looks up is the proxy's.
        let error = Outer(DnsError {
            host: "proxy.example".into(),
            message: "failed to lookup address information".into(),
        });
        let classified = transport.classify(&*via_proxy(error));
        assert!(
            matches!(&classified, TransportError::Dns { host, proxy: true, .. } if host == "proxy.example"),
            "{classified:?}"
        );
        assert!(
            classified.to_string().contains("the proxy's host"),
            "{classified}"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn tunnel_destinations_name_their_port() {
        assert_eq!(
            with_port("http://m.example/x".parse().unwrap()).port_u16(),
            Some(80)
        );
        assert_eq!(
            with_port("https://m.example/x".parse().unwrap()).port_u16(),
            Some(443)
        );
        assert_eq!(
            with_port("https://m.example:8443/".parse().unwrap()).port_u16(),
            Some(8443)
        );
    }
}
