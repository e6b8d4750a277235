//! The baseline of `cargo bench --bench rest`: the least an axum 0.8 JSON endpoint can do on
//! Tokio's multi-thread runtime, so ghpulse's figures read as a share of what the machine,
//! the HTTP stack and the load generator allow in the same run.
//!
//! `cargo run --release --example hello -- 127.0.0.1:5002 [FILE]` serves `GET /` →
//! `{"message":"hello"}` and prints `listening on http://ADDR` (port 0 picks a free one). With
//! FILE, `GET /body` also answers FILE's bytes as `application/json`, read once and served
//! from memory: the bench gives it what ghpulse's `/api/stats` answered, so the two servers
//! send the very same bytes and only the work behind them differs.

use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

#[derive(Serialize)]
struct Hello {
    message: &'static str,
}

#[tokio::main]
pub async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".to_string());
    let body = match args.next() {
        Some(path) => Some(Bytes::from(std::fs::read(path)?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let mut app = Router::new().route("/", get(|| async { Json(Hello { message: "hello" }) }));
    if let Some(body) = body {
        app = app.route(
            "/body",
            get(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
    }
    axum::serve(listener, app).await
}
