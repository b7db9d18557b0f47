//! ecr-scan-alerts: turns Amazon ECR image scan results into alerts people
//! act on.
//!
//! Pipeline: [`event`] (what arrived) -> [`ports::FindingsSource`] (findings,
//! page by page) -> [`policy`] (what is alert-worthy) -> [`tally`] (folded
//! results) -> [`fixplan`] (what to upgrade, ordered by [`version`]) ->
//! [`render`] (subject, text, attributes, the [`source`] link) -> [`ports::AlertSink`].
//! [`text`] keeps untrusted text safe in each format; [`app`] wires them; [`aws`] holds the SDK adapters; [`config`] the
//! start-up settings.

pub mod alert;
pub mod alert_memory;
pub mod app;
pub mod assessment;
pub mod aws;
pub mod config;
pub mod continuous;
pub mod dedup;
pub mod entry;
pub mod error;
pub mod event;
pub mod finding;
pub mod fixplan;
pub mod fold;
pub mod gate;
pub mod glob;
pub mod image;
pub mod memory_store;
pub mod metrics;
pub mod outcome;
pub mod policy;
pub mod policy_store;
pub mod ports;
pub mod render;
pub mod severity;
pub mod source;
pub mod tally;
pub mod text;
pub mod version;

pub use app::App;
pub use config::Config;
pub use error::HandlerError;
pub use outcome::Outcome;
