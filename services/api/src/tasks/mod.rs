//! The task resource: input validation, the pagination cursor and the SQL.

pub mod cursor;
pub mod input;
pub mod store;
