//! `GET /docs`: Swagger UI over `/openapi.json`, its scripts and styles inside the binary
//! (utoipa-swagger-ui, `vendored`), so the page renders where no CDN can be reached and asks
//! nothing of any other host.

use std::io::Read;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::ApiState;

/// The largest asset (the Swagger UI bundle) is 1.5 MB unpacked.
const MAX_ASSET_BYTES: usize = 8 << 20;

pub fn router() -> Router<ApiState> {
    let docs: Router<ApiState> = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .config(utoipa_swagger_ui::Config::from("/openapi.json").try_it_out_enabled(true))
        .into();
    docs.layer(middleware::from_fn(as_accepted))
}

/// The assets are kept gzipped; a client that did not say it takes gzip gets them unpacked.
async fn as_accepted(request: Request, next: Next) -> Response {
    let takes_gzip = accepts_gzip(request.headers());
    let response = next.run(request).await;
    let gzipped =
        response.headers().get(header::CONTENT_ENCODING) == Some(&HeaderValue::from_static("gzip"));
    if takes_gzip || !gzipped {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(packed) = axum::body::to_bytes(body, MAX_ASSET_BYTES).await else {
        return broken_asset();
    };
    let mut unpacked = Vec::new();
    match flate2::read::GzDecoder::new(&packed[..])
        .take(MAX_ASSET_BYTES as u64)
        .read_to_end(&mut unpacked)
    {
        Ok(_) => {
            parts.headers.remove(header::CONTENT_ENCODING);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(unpacked))
        }
        Err(_) => broken_asset(),
    }
}

/// The assets are the binary's own: this cannot follow from anything a client sends.
fn broken_asset() -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "a documentation asset could not be unpacked",
    )
    .into_response()
}

/// `Accept-Encoding` names gzip (or `*`) without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn gzip_is_sent_only_to_clients_that_take_it() {
        for yes in [
            "gzip",
            "gzip, deflate, br, zstd",
            "br;q=1.0, GZIP;q=0.5",
            "*",
        ] {
            assert!(accepts_gzip(&headers(yes)), "{yes}");
        }
        for no in ["identity", "br", "gzip;q=0", "gzip; q=0.0", ""] {
            assert!(!accepts_gzip(&headers(no)), "{no}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
