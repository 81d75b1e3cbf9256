//! The keyset pagination cursor: the (created_at, id) of the last item seen,
//! opaque to clients.
//!
//! Fixed-size binary (8 bytes of microseconds, 16 of id) in 32 characters of
//! unpadded base64url, so that the schema can say exactly what a cursor is
//! (`^[A-Za-z0-9_-]{32}$`) and every string it admits is one: a forged or
//! stale cursor is just a position in the keyset, never an error.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::ApiError;

/// What the OpenAPI document promises; empty means "from the start".
pub const CURSOR_PATTERN: &str = "^([A-Za-z0-9_-]{32})?$";

/// 0001-01-01 and 9999-12-31T23:59:59.999999Z: a position outside them is
/// moved to them, which selects the same rows (no task was created before
/// year 1 or after year 9999) and stays inside what Postgres and chrono hold.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&self.created_at.timestamp_micros().to_be_bytes());
        bytes[8..].copy_from_slice(self.id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(raw: &str) -> Result<Self, ApiError> {
        let invalid = || {
            ApiError::BadRequest(
                "invalid cursor (32 characters of A-Z, a-z, 0-9, '-', '_'); use next_cursor from a previous page"
                    .to_owned(),
            )
        };
        let bytes: [u8; 24] = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| invalid())?
            .try_into()
            .map_err(|_| invalid())?;
        let (micros, id) = bytes.split_at(8);
        let micros = i64::from_be_bytes(micros.try_into().map_err(|_| invalid())?)
            .clamp(MIN_MICROS, MAX_MICROS);
        Ok(Cursor {
            created_at: DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?,
            id: Uuid::from_slice(id).map_err(|_| invalid())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_what_the_pattern_refuses() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("valid"),
            id: Uuid::now_v7(),
        };
        assert_eq!(cursor.encode().len(), 32);
        assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
        for bad in [
            "",
            "!!!",
            "bm90LWEtY3Vyc29y",
            &"A".repeat(33),
            &"=".repeat(32),
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_string_the_pattern_admits_is_a_cursor() {
        let pattern = matches_pattern;
        for raw in [
            "A".repeat(32),
            "_".repeat(32),
            "-".repeat(32),
            "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz".to_owned(),
            "0123456789abcdefABCDEF-_xyzXYZ01".to_owned(),
        ] {
            assert!(pattern(&raw), "{raw}");
            assert!(Cursor::decode(&raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn the_document_promises_this_pattern() {
        use utoipa::OpenApi;
        let doc = serde_json::to_value(crate::openapi::ApiDoc::openapi()).expect("json");
        let params = doc["paths"]["/tasks"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let cursor = params
            .iter()
            .find(|p| p["name"] == "cursor")
            .expect("cursor parameter");
        assert_eq!(cursor["schema"]["pattern"], CURSOR_PATTERN);
    }

    /// `CURSOR_PATTERN` spelled out, for `every_string_the_pattern_admits_is_a_cursor`.
    fn matches_pattern(raw: &str) -> bool {
        raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}
