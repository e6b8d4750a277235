//! The baseline of `cargo bench --bench rest`: the least an axum 0.8 JSON endpoint can do on
//! Tokio's multi-thread runtime, so ghpulse's figures read as a share of what the machine,
//! the HTTP stack and the load generator allow in the same run.
//!
//! `cargo run --release --example hello -- 127.0.0.1:5002` serves `GET /` →
//! `{"message":"hello"}` and prints `listening on http://ADDR` (port 0 picks a free one).

use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

#[derive(Serialize)]
struct Hello {
    message: &'static str,
}

#[tokio::main]
pub async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let app = Router::new().route("/", get(|| async { Json(Hello { message: "hello" }) }));
    axum::serve(listener, app).await
}
