//! Request bodies and their validation. Everything a client sends is checked
//! here, so that no input can reach Postgres in a form it would reject (which
//! would surface as a 500). Payloads may hold any JSON, NUL characters
//! included: they are stored in a `json` column, which keeps `\u0000` escapes
//! as sent (only `jsonb` and `text` refuse them).

use opsbox_common::model::TaskKind;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::ApiError;

pub const TITLE_MAX_CHARS: usize = 200;
pub const PAYLOAD_MAX_BYTES: usize = 16 * 1024;
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// 1 to 200 characters after trimming; no control characters (they
    /// would let a title inject escape sequences into an operator's terminal).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$",
        example = "resize images"
    )]
    pub title: String,
    /// Defaults to `io`.
    pub kind: Option<TaskKind>,
    /// A JSON object of at most 16 KiB, e.g. `{"ms": 200}` for `io`.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    /// 1 to 200 characters after trimming; no control characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub title: String,
}

/// A create request that passed validation.
#[derive(Debug, PartialEq)]
pub struct NewTask {
    pub title: String,
    pub kind: TaskKind,
    pub payload: Value,
}

impl CreateTask {
    pub fn validate(self) -> Result<NewTask, ApiError> {
        let title = validate_title(&self.title)?;
        let payload = match self.payload {
            None | Some(Value::Null) => Value::Object(Default::default()),
            Some(payload @ Value::Object(_)) => {
                let size = serde_json::to_vec(&payload)
                    .map(|b| b.len())
                    .unwrap_or(usize::MAX);
                if size > PAYLOAD_MAX_BYTES {
                    return Err(ApiError::Validation(format!(
                        "payload is {size} bytes; the limit is {PAYLOAD_MAX_BYTES}"
                    )));
                }
                payload
            }
            Some(_) => {
                return Err(ApiError::Validation(
                    "payload must be a JSON object".to_owned(),
                ))
            }
        };
        Ok(NewTask {
            title,
            kind: self.kind.unwrap_or_default(),
            payload,
        })
    }
}

/// Trims and checks a title: 1..=200 characters, no control characters.
pub fn validate_title(raw: &str) -> Result<String, ApiError> {
    let title = raw.trim();
    let chars = title.chars().count();
    if chars == 0 {
        return Err(ApiError::Validation("title must not be empty".to_owned()));
    }
    if chars > TITLE_MAX_CHARS {
        return Err(ApiError::Validation(format!(
            "title is {chars} characters; the limit is {TITLE_MAX_CHARS}"
        )));
    }
    if title.chars().any(char::is_control) {
        return Err(ApiError::Validation(
            "title must not contain control characters".to_owned(),
        ));
    }
    Ok(title.to_owned())
}

/// An `Idempotency-Key` is 1..=255 visible ASCII characters.
pub fn validate_idempotency_key(raw: &[u8]) -> Result<String, ApiError> {
    let valid = !raw.is_empty()
        && raw.len() <= IDEMPOTENCY_KEY_MAX
        && raw.iter().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"
        )));
    }
    Ok(String::from_utf8_lossy(raw).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn create(title: &str, payload: Option<Value>) -> CreateTask {
        CreateTask {
            title: title.to_owned(),
            kind: None,
            payload,
        }
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(validate_title("  hello  ").ok(), Some("hello".to_owned()));
        assert!(validate_title("   ").is_err());
        assert!(validate_title(&"é".repeat(200)).is_ok());
        assert!(validate_title(&"é".repeat(201)).is_err());
        assert!(validate_title("a\0b").is_err());
    }

    #[test]
    fn payload_defaults_to_an_empty_object_and_must_be_one() {
        let task = create("t", None).validate().expect("valid");
        assert_eq!(task.payload, json!({}));
        assert_eq!(task.kind, TaskKind::Io);
        assert!(create("t", Some(json!([1, 2]))).validate().is_err());
        assert!(create("t", Some(json!({"k\u{0}": "a\u{0}b"})))
            .validate()
            .is_ok());
        let big = json!({"blob": "x".repeat(PAYLOAD_MAX_BYTES)});
        assert!(create("t", Some(big)).validate().is_err());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert_eq!(
            validate_idempotency_key(b"abc-123").ok(),
            Some("abc-123".to_owned())
        );
        assert!(validate_idempotency_key(b"").is_err());
        assert!(validate_idempotency_key(b"has space").is_err());
        assert!(validate_idempotency_key(&[b'a'; 256]).is_err());
    }
}
