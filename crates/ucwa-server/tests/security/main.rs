//! Security tests (docs/SECURITY.md): each reproduces an attack from issue 11 against the
//! real server on a loopback port and checks that it no longer works. One module per
//! finding or group of findings.

mod bots;
mod callback_fairness;
mod callback_targets;
mod domains;
mod fan_out;
mod idempotency;
mod panics;
mod quotas;
mod revocation;
mod signin;
mod slow_clients;
