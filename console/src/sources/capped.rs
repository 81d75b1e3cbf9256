//! Reads an HTTP body up to a size limit, so a misbehaving endpoint cannot fill the console's memory.

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body broke off: {0}")]
    Read(#[source] reqwest::Error),
}

impl BodyError {
    /// True when the connection's time ran out while reading.
    pub fn is_timeout(&self) -> bool {
        matches!(self, BodyError::Read(error) if error.is_timeout())
    }
}

/// The whole body, or an error as soon as it passes `limit` bytes.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
