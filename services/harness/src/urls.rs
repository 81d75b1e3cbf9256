//! Small edits of PostgreSQL and Redis URLs: swap the database, hide the password.

/// The longest PostgreSQL identifier (NAMEDATALEN - 1).
pub(crate) const MAX_DATABASE_NAME_LEN: usize = 63;

/// `url` with its database (the path) replaced by `database`; `None` if it is not a postgres URL.
///
/// Done by hand rather than with a URL parser because only the path changes and
/// everything else (credentials, query parameters) must be kept byte for byte.
pub(crate) fn with_database(url: &str, database: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme != "postgres" && scheme != "postgresql" {
        return None;
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after_authority) = rest.split_at(authority_end);
    if authority.is_empty() && !after_authority.starts_with('/') {
        return None;
    }
    let suffix_start = after_authority
        .find(['?', '#'])
        .unwrap_or(after_authority.len());
    let suffix = &after_authority[suffix_start..];
    Some(format!("{scheme}://{authority}/{database}{suffix}"))
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_string(),
    }
}

/// True for names we create without quoting surprises: `[a-z][a-z0-9_]*`, at most 63 bytes.
pub(crate) fn is_valid_database_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(first) if first.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= MAX_DATABASE_NAME_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_the_database_and_keeps_everything_else() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/opsbox", "t1").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/t1")
        );
        assert_eq!(
            with_database("postgresql://u:p%2Fw@db:5432/app?sslmode=disable", "t2").as_deref(),
            Some("postgresql://u:p%2Fw@db:5432/t2?sslmode=disable")
        );
        assert_eq!(
            with_database("postgres://u@db", "t3").as_deref(),
            Some("postgres://u@db/t3")
        );
        assert_eq!(
            with_database("postgres://u@db?application_name=x", "t4").as_deref(),
            Some("postgres://u@db/t4?application_name=x")
        );
        assert_eq!(
            with_database("postgres:///app?host=/run/postgresql", "t5").as_deref(),
            Some("postgres:///t5?host=/run/postgresql")
        );
    }

    #[test]
    fn rejects_urls_of_other_schemes() {
        assert_eq!(with_database("redis://127.0.0.1:6379/0", "x"), None);
        assert_eq!(with_database("not a url", "x"), None);
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/app"),
            "postgres://app:***@db:5432/app"
        );
        assert_eq!(
            redact("redis://:secret@127.0.0.1:6379"),
            "redis://:***@127.0.0.1:6379"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/opsbox"),
            "postgres://postgres@127.0.0.1:5432/opsbox"
        );
    }

    #[test]
    fn validates_database_names() {
        assert!(is_valid_database_name("opsbox"));
        assert!(is_valid_database_name("t_123_abc"));
        assert!(!is_valid_database_name(""));
        assert!(!is_valid_database_name("1abc"));
        assert!(!is_valid_database_name("Abc"));
        assert!(!is_valid_database_name("a-b"));
        assert!(!is_valid_database_name("a\"; drop"));
        assert!(!is_valid_database_name(&"a".repeat(64)));
    }
}
