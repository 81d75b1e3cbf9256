//! `create_database` / `create_unique_database`: fresh, empty, separate databases on the shared server.

use opsbox_harness::{Dependencies, HarnessError};

use crate::support::pg_connect;

#[tokio::test]
async fn unique_databases_are_distinct_empty_and_working() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let first = deps
        .create_unique_database("test")
        .await
        .expect("first database");
    let second = deps
        .create_unique_database("test")
        .await
        .expect("second database");
    assert_ne!(first, second);

    let mut first_connection = pg_connect(&first).await;
    sqlx::raw_sql("CREATE TABLE only_here (id int)")
        .execute(&mut first_connection)
        .await
        .expect("create a table in the first database");
    let mut second_connection = pg_connect(&second).await;
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&mut second_connection)
            .await
            .expect("count tables");
    assert_eq!(tables, 0, "the second database is empty and separate");
}

#[tokio::test]
async fn named_databases_are_created_once_and_names_are_checked() {
    let deps = Dependencies::private().await.expect("start dependencies");
    let url = deps
        .create_database("reports")
        .await
        .expect("create reports");
    assert!(url.ends_with("/reports"), "{url}");
    let mut connection = pg_connect(&url).await;
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut connection)
        .await
        .expect("current database");
    assert_eq!(name, "reports");

    let again = deps
        .create_database("reports")
        .await
        .expect_err("it exists already");
    assert!(matches!(again, HarnessError::Postgres { .. }), "{again}");
    let invalid = deps
        .create_database("Robert'); DROP")
        .await
        .expect_err("not a plain name");
    assert!(
        matches!(invalid, HarnessError::InvalidDatabaseName { .. }),
        "{invalid}"
    );
}
