//! One scrape of an instance's `/metrics`: bounded in time and size.

use std::time::Duration;

use super::capped::{read_capped, BodyError};

/// An exposition larger than this is refused: the services expose a few hundred
/// series, so this is a broken or hostile endpoint, not a busy one.
pub const MAX_EXPOSITION_BYTES: usize = 8 * 1024 * 1024;

/// Why one scrape gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("the exposition is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the exposition is not UTF-8")]
    NotText,
}

/// Fetches `/metrics` texts; cheap to clone (one connection pool).
#[derive(Debug, Clone)]
pub struct Scraper {
    http: reqwest::Client,
    timeout: Duration,
}

impl Scraper {
    /// `timeout` bounds each scrape from connect to the last byte; keep it under the
    /// scrape interval so a hung instance never delays the next round.
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|error| anyhow::anyhow!("cannot build the scrape client: {error}"))?;
        Ok(Self { http, timeout })
    }

    /// The text exposition at `url`.
    pub async fn scrape(&self, url: &str) -> Result<String, ScrapeError> {
        let response = self
            .http
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "text/plain;version=0.0.4;q=1,*/*;q=0.1",
            )
            .send()
            .await
            .map_err(|error| self.send_error(&error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ScrapeError::Status(status.as_u16()));
        }
        let body =
            read_capped(response, MAX_EXPOSITION_BYTES)
                .await
                .map_err(|error| match error {
                    BodyError::TooLarge { limit } => ScrapeError::TooLarge { limit },
                    error if error.is_timeout() => ScrapeError::Timeout(self.timeout),
                    error => ScrapeError::Unreachable(error.to_string()),
                })?;
        String::from_utf8(body).map_err(|_| ScrapeError::NotText)
    }

    fn send_error(&self, error: &reqwest::Error) -> ScrapeError {
        if error.is_timeout() {
            ScrapeError::Timeout(self.timeout)
        } else {
            ScrapeError::Unreachable(root_cause(error))
        }
    }
}

/// The innermost error: "connection refused" rather than "error sending request".
pub fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use axum::Router;

    use super::*;

    async fn serve(app: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_scrape_returns_the_text_or_says_what_went_wrong() {
        let base = serve(
            Router::new()
                .route("/metrics", get(|| async { "up 1\n" }))
                .route(
                    "/broken",
                    get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "no") }),
                )
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        "late"
                    }),
                )
                .route(
                    "/huge",
                    get(|| async { "x".repeat(MAX_EXPOSITION_BYTES + 1) }),
                ),
        )
        .await;
        let scraper = Scraper::new(Duration::from_millis(300)).expect("client");
        assert_eq!(
            scraper
                .scrape(&format!("{base}/metrics"))
                .await
                .expect("scraped"),
            "up 1\n"
        );
        assert!(matches!(
            scraper.scrape(&format!("{base}/broken")).await,
            Err(ScrapeError::Status(503))
        ));
        assert!(matches!(
            scraper.scrape(&format!("{base}/slow")).await,
            Err(ScrapeError::Timeout(_))
        ));
        assert!(matches!(
            scraper.scrape(&format!("{base}/huge")).await,
            Err(ScrapeError::TooLarge { .. })
        ));
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = closed.local_addr().expect("addr");
        drop(closed);
        let refused = scraper
            .scrape(&format!("http://{addr}/metrics"))
            .await
            .expect_err("nothing listens");
        assert!(
            matches!(refused, ScrapeError::Unreachable(ref reason) if reason.contains("refused")),
            "{refused}"
        );
    }
}
