//! HTTP handlers, one module per resource. Each parses the request (extractors in
//! [`crate::auth`] and [`crate::input`]), calls one `ucwa-service` use case and renders what
//! it returns; route modules do not call each other.

pub mod applications;
pub mod batch;
pub mod conversations;
pub mod discovery;
pub mod events;
pub mod invitations;
pub mod messaging;
pub mod my_meetings;
pub mod participant_invitations;
pub mod people;
pub mod platform;
pub mod service_join;
pub mod token;
