//! ecr-scan-alerts: turns Amazon ECR image scan results into alerts people
//! act on.
//!
//! The crate's folders are its architecture:
//! - [`domain`]: what the product knows, with no I/O: events, images,
//!   findings, severities, the policy and how it judges a finding
//!   ([`domain::policy`]), the tally, the [`domain::assessment`] of an
//!   image, the fix plan, what was alerted ([`domain::dedup`]);
//! - [`render`]: the alert formats (email text, Slack custom notification);
//! - [`pipeline`]: the use cases, talking to the world only through
//!   [`ports`]: one event or one batch ([`pipeline::App`]), the CI gate
//!   ([`pipeline::gate`]), only-new alerts ([`pipeline::alert_memory`]);
//! - [`adapters`]: the ports made real (AWS SDK clients) or in memory;
//! - [`entry`] and [`config`]: the function's two entry points and its
//!   settings, read once at cold start (`src/main.rs` and
//!   `src/bin/ecr-scan-gate.rs` are the thin binaries).

pub mod adapters;
pub mod config;
pub mod domain;
pub mod entry;
pub mod pipeline;
pub mod ports;
pub mod render;

pub use config::Config;
pub use pipeline::error::HandlerError;
pub use pipeline::outcome::Outcome;
pub use pipeline::App;
