//! HTTP handlers, one module per resource. Handlers are thin: extract, call the store or
//! the core, render.

pub mod applications;
pub mod batch;
pub mod conversations;
pub mod discovery;
pub mod events;
pub mod invitations;
pub mod messaging;
pub mod my_meetings;
pub mod participant_invitations;
pub mod platform;
pub mod psanon;
pub mod service_join;
pub mod token;
