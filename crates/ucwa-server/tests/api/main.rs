//! API tests: the real server on a loopback port with a real SQLite database, driven over
//! HTTP the way UCWA clients drive it. One binary, one module per resource.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

mod anonymous;
mod applications;
mod compat;
mod discovery;
mod errors;
mod events;
mod fanout;
mod invite;
mod join;
mod meetings;
mod messaging;
mod policy;
mod retention;
mod roster;
mod routes;
mod service;
