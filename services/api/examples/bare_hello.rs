//! A bare axum server answering `GET /` with a fixed body: the ceiling that
//! `make bench` compares the API's `/health` against.

use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let app = Router::new().route("/", get(|| async { r#"{"status":"ok"}"# }));
    axum::serve(listener, app).await
}
