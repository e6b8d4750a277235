//! The `Host` check against DNS rebinding. A web page the user visits can point its own name at
//! 127.0.0.1 once it is loaded, and then read every GET endpoint as its own origin; its requests
//! still name it in `Host`. So only the names the listener is really reached by are served:
//! `localhost`, the address it listens on (any IP address when it listens on all of them:
//! rebinding needs a name), and the names of `[server] allowed_hosts`, on any port (rebinding
//! does not change the port). Other names get 421.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ghpulse_core::parse_host;

use crate::error::ApiError;

#[derive(Clone, Debug)]
pub struct AllowedHosts {
    listen: IpAddr,
    /// As [`parse_host`] writes them.
    names: Arc<[String]>,
}

impl AllowedHosts {
    /// `names` as the config gives them (already checked by [`parse_host`]).
    pub fn new(listen: IpAddr, names: &[String]) -> AllowedHosts {
        AllowedHosts {
            listen,
            names: names.into(),
        }
    }

    fn check(&self, headers: &HeaderMap, version: Version) -> Result<(), ApiError> {
        let mut hosts = headers.get_all(header::HOST).iter();
        let (value, more) = (hosts.next(), hosts.next());
        let value = match (value, more) {
            (_, Some(_)) => return Err(ApiError::bad_request("more than one Host header")),
            // HTTP/1.0 has no Host; browsers, the clients rebinding goes through, always send it.
            (None, None) if version < Version::HTTP_11 => return Ok(()),
            (None, None) => return Err(ApiError::bad_request("no Host header")),
            (Some(v), None) => v,
        };
        let host = host_without_port(value)
            .and_then(|h| parse_host(&h).ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "malformed Host header {:?}",
                    String::from_utf8_lossy(value.as_bytes())
                ))
            })?;
        let served = match &host {
            url::Host::Ipv4(ip) => self.serves_ip(IpAddr::V4(*ip)),
            url::Host::Ipv6(ip) => self.serves_ip(IpAddr::V6(*ip)),
            url::Host::Domain(name) => name == "localhost",
        } || self.names.iter().any(|n| *n == host.to_string());
        if served {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this server does not answer to {host}: add it to [server] allowed_hosts to \
                     serve it (a guard against DNS rebinding)"
                ),
            ))
        }
    }

    fn serves_ip(&self, ip: IpAddr) -> bool {
        self.listen.is_unspecified() || ip == self.listen
    }
}

/// `host[:port]` (`[v6]:port`) without its port; `None` when it is not of that shape.
fn host_without_port(value: &HeaderValue) -> Option<String> {
    let value = value.to_str().ok()?;
    // An authority may carry `user@`; a Host header may not.
    if value.contains('@') {
        return None;
    }
    let authority: axum::http::uri::Authority = value.parse().ok()?;
    let host = authority.host();
    // `Authority` takes any port text; a Host header's is digits (possibly none).
    let port = value.get(host.len()..)?;
    let port_ok = match port.strip_prefix(':') {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => port.is_empty(),
    };
    port_ok.then(|| host.to_string())
}

/// The middleware: a request for a name not served is answered before anything else reads it,
/// so the connection cannot carry another request (its body may be unread).
pub(crate) async fn check_host(
    State(hosts): State<AllowedHosts>,
    request: Request,
    next: Next,
) -> Response {
    match hosts.check(request.headers(), request.version()) {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            let mut response = refused.into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(hosts: &AllowedHosts, host: Option<&str>) -> Result<(), StatusCode> {
        let mut headers = HeaderMap::new();
        if let Some(h) = host {
            headers.insert(header::HOST, HeaderValue::from_str(h).expect("header"));
        }
        hosts
            .check(&headers, Version::HTTP_11)
            .map_err(|e| e.status)
    }

    #[test]
    fn localhost_the_listen_address_and_the_configured_names_are_served_on_any_port() {
        let names = ["ghpulse.lan".to_string(), "[fd00::5]".to_string()];
        let hosts = AllowedHosts::new("127.0.0.1".parse().expect("ip"), &names);
        for served in [
            "localhost",
            "LOCALHOST:5001",
            "localhost.:80",
            "127.0.0.1",
            "127.0.0.1:5001",
            "ghpulse.lan",
            "GHPULSE.lan:8080",
            "[fd00::5]:5001",
        ] {
            assert_eq!(check(&hosts, Some(served)), Ok(()), "{served}");
        }
        for refused in [
            "evil.example",
            "evil.example:5001",
            "127.0.0.2:5001",
            "[::1]:5001",
            "ghpulse.lan.evil.example",
            "localhost.evil.example",
            "sub.ghpulse.lan",
        ] {
            assert_eq!(
                check(&hosts, Some(refused)),
                Err(StatusCode::MISDIRECTED_REQUEST),
                "{refused}"
            );
        }
    }

    #[test]
    fn listening_on_every_address_serves_every_ip_address_but_no_other_name() {
        let hosts = AllowedHosts::new("0.0.0.0".parse().expect("ip"), &[]);
        for served in ["192.168.1.10:5001", "[2001:db8::1]:5001", "localhost:5001"] {
            assert_eq!(check(&hosts, Some(served)), Ok(()), "{served}");
        }
        assert_eq!(
            check(&hosts, Some("rebound.example:5001")),
            Err(StatusCode::MISDIRECTED_REQUEST)
        );
    }

    #[test]
    fn a_missing_doubled_or_malformed_host_is_a_bad_request() {
        let hosts = AllowedHosts::new("127.0.0.1".parse().expect("ip"), &[]);
        for malformed in [
            "",
            "a b",
            "localhost:port",
            "user@localhost",
            "[::1",
            "*.lan",
        ] {
            assert_eq!(
                check(&hosts, Some(malformed)),
                Err(StatusCode::BAD_REQUEST),
                "{malformed:?}"
            );
        }
        assert_eq!(check(&hosts, None), Err(StatusCode::BAD_REQUEST));
        let mut headers = HeaderMap::new();
        headers.append(header::HOST, HeaderValue::from_static("localhost"));
        headers.append(header::HOST, HeaderValue::from_static("localhost"));
        assert_eq!(
            hosts
                .check(&headers, Version::HTTP_11)
                .map_err(|e| e.status),
            Err(StatusCode::BAD_REQUEST)
        );
        // HTTP/1.0 has no Host header to check.
        assert!(hosts.check(&HeaderMap::new(), Version::HTTP_10).is_ok());
    }
}
