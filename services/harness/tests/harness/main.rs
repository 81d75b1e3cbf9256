//! Integration tests: real PostgreSQL and Redis processes started by the harness, no mocks.

mod cli;
mod databases;
mod lifecycle;
mod postgres_server;
mod redis_server;
mod support;
