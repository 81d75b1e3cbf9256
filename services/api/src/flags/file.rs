//! The flags file: a JSON object of flag name → boolean, as the chart renders
//! `featureFlags` into the ConfigMap key `flags.json`. Read with a size cap and
//! checked whole, so a bad edit is refused as one and never half-applied.

use std::collections::BTreeMap;
use std::path::Path;

use tokio::io::AsyncReadExt;

/// Largest flags file read: a ConfigMap of booleans is a few hundred bytes.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Most flags one file may declare: each becomes a metric series.
pub const MAX_FLAGS: usize = 64;
/// Longest flag name; names are `[A-Za-z0-9_.-]`, as metric label values should be.
pub const MAX_NAME_CHARS: usize = 64;

/// A complete, valid set of flags.
pub type FlagSet = BTreeMap<String, bool>;

/// Reads the file's bytes, refusing one larger than [`MAX_FILE_BYTES`].
pub async fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_FILE_BYTES} bytes",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Parses and checks a whole flags file.
pub fn parse(bytes: &[u8]) -> Result<FlagSet, String> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let object = value
        .as_object()
        .ok_or("must be a JSON object of flag name to true/false")?;
    if object.len() > MAX_FLAGS {
        return Err(format!(
            "{} flags; at most {MAX_FLAGS} are accepted",
            object.len()
        ));
    }
    object
        .iter()
        .map(|(name, on)| {
            check_name(name)?;
            let on = on
                .as_bool()
                .ok_or_else(|| format!("flag {name:?} must be true or false, not {on}"))?;
            Ok((name.clone(), on))
        })
        .collect()
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "flag name {name:?} must be 1 to {MAX_NAME_CHARS} characters of A-Z, a-z, 0-9, '_', '.', '-'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charts_rendering_parses() {
        let flags = parse(br#"{"bulkTasks":true,"other":false}"#).expect("valid");
        assert_eq!(flags.get("bulkTasks"), Some(&true));
        assert_eq!(flags.get("other"), Some(&false));
        assert!(parse(b"{}").expect("empty is valid").is_empty());
    }

    #[test]
    fn anything_else_is_refused_whole() {
        for bad in [
            &b""[..],
            b"{",
            b"[true]",
            br#"{"bulkTasks":"yes"}"#,
            br#"{"bulkTasks":1}"#,
            br#"{"bad name":true}"#,
            br#"{"":true}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let many: serde_json::Map<String, serde_json::Value> = (0..=MAX_FLAGS)
            .map(|i| (format!("f{i}"), serde_json::Value::Bool(true)))
            .collect();
        let too_many = serde_json::to_vec(&many).expect("json");
        assert!(parse(&too_many).expect_err("too many").contains("at most"));
    }

    #[tokio::test]
    async fn a_file_over_the_cap_is_not_read_whole() {
        let dir = std::env::temp_dir().join(format!("opsbox-flags-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("flags.json");
        std::fs::write(&path, vec![b' '; MAX_FILE_BYTES as usize + 1]).expect("write");
        assert!(read_bounded(&path)
            .await
            .expect_err("big")
            .contains("larger"));
        assert!(read_bounded(&dir.join("absent")).await.is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
