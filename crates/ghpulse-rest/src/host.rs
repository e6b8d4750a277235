//! The `Host` check against DNS rebinding. A web page the user visits can point its own name at
//! 127.0.0.1 once it is loaded, and then read every GET endpoint as its own origin; its requests
//! still name it in `Host`. So only the names the listener is really reached by are served:
//! `localhost`, the address it listens on (any IP address when it listens on all of them:
//! rebinding needs a name), and the names of `[server] allowed_hosts`, on any port (rebinding
//! does not change the port). Other names get 421.

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use ghpulse_core::parse_host;

use crate::error::ApiError;

#[derive(Clone, Debug)]
pub struct AllowedHosts {
    listen: IpAddr,
    /// As [`parse_host`] writes them.
    names: Arc<[String]>,
    /// Hosts served as they are spelled here (ASCII case aside), with any port: `localhost`,
    /// the listen address, the names. What nearly every client sends is checked against these
    /// without parsing; anything else takes the full parse.
    verbatim: Arc<[String]>,
}

impl AllowedHosts {
    /// `names` as the config gives them (already checked by [`parse_host`]).
    pub fn new(listen: IpAddr, names: &[String]) -> AllowedHosts {
        let listen_text = match listen {
            _ if listen.is_unspecified() => None,
            IpAddr::V4(ip) => Some(ip.to_string()),
            IpAddr::V6(ip) => Some(format!("[{ip}]")),
        };
        let verbatim = std::iter::once("localhost".to_string())
            .chain(listen_text)
            .chain(names.iter().cloned())
            .collect();
        AllowedHosts {
            listen,
            names: names.into(),
            verbatim,
        }
    }

    pub(crate) fn check(&self, headers: &HeaderMap, version: Version) -> Result<(), ApiError> {
        let mut hosts = headers.get_all(header::HOST).iter();
        let (value, more) = (hosts.next(), hosts.next());
        let value = match (value, more) {
            (_, Some(_)) => return Err(ApiError::bad_request("more than one Host header")),
            // HTTP/1.0 has no Host; browsers, the clients rebinding goes through, always send it.
            (None, None) if version < Version::HTTP_11 => return Ok(()),
            (None, None) => return Err(ApiError::bad_request("no Host header")),
            (Some(v), None) => v,
        };
        if let Some(host) = verbatim_host(value.as_bytes())
            && self
                .verbatim
                .iter()
                .any(|v| v.as_bytes().eq_ignore_ascii_case(host))
        {
            return Ok(());
        }
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
        } || (!self.names.is_empty() && self.names.contains(&host.to_string()));
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

/// The host of `host[:digits]` or `[v6][:digits]`, unparsed: only ever compared with hosts
/// known to be well formed, so a match is a `Host` the full parse accepts too.
fn verbatim_host(value: &[u8]) -> Option<&[u8]> {
    let end = match value.first() {
        Some(b'[') => value.iter().position(|&b| b == b']')? + 1,
        _ => value.iter().position(|&b| b == b':').unwrap_or(value.len()),
    };
    let (host, port) = value.split_at(end);
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    port_ok.then_some(host)
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

/// The answer to a request for a name not served (or a malformed `Host`): given before anything
/// else reads the request, so the connection cannot carry another one (its body may be unread).
pub(crate) fn refused(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
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
    fn the_verbatim_match_accepts_only_what_the_full_parse_accepts() {
        let names = ["ghpulse.lan".to_string(), "[fd00::5]".to_string()];
        let hosts = AllowedHosts::new("127.0.0.1".parse().expect("ip"), &names);
        let slow = AllowedHosts {
            verbatim: Arc::from([]),
            ..hosts.clone()
        };
        for value in [
            "localhost",
            "localhost:",
            "LocalHost:5001",
            "localhost:50x1",
            "localhost:5001:1",
            "localhost@evil",
            "127.0.0.1:5001",
            "127.0.0.1:",
            "127.0.0.1.evil",
            "127.0.0.1:-1",
            "[fd00::5]:1",
            "[FD00::5]",
            "[fd00::5]x",
            "[fd00::5",
            "ghpulse.lan:8080",
            "ghpulse.lanx",
            "ghpulse.lan.",
            ":5001",
            "",
        ] {
            assert_eq!(
                check(&hosts, Some(value)),
                check(&slow, Some(value)),
                "{value:?}"
            );
        }
        assert_eq!(verbatim_host(b"localhost:5001"), Some(&b"localhost"[..]));
        assert_eq!(verbatim_host(b"[::1]:80"), Some(&b"[::1]"[..]));
        assert_eq!(verbatim_host(b"localhost:x"), None);
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
