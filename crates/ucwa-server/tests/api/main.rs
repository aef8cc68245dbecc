//! API tests: the real server on a loopback port with a real SQLite database, driven over
//! HTTP the way UCWA clients drive it. One binary, one module per resource.

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
mod roster;
mod service;
