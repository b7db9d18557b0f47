//! What the product knows, as plain types and functions: no SDK types, no
//! I/O.

pub mod alert;
pub mod assessment;
pub mod commit_link;
pub mod continuous;
pub mod coverage;
pub mod deadline;
pub mod dedup;
pub mod digest;
pub mod digest_run;
pub mod digest_state;
pub mod event;
pub mod finding;
pub mod fixplan;
pub mod gate_report;
pub mod glob;
pub mod image;
pub mod judged;
pub mod owner;
pub mod policy;
pub mod report;
pub mod risk;
pub mod scan_status;
pub mod severity;
pub mod storm;
pub mod text;
pub mod time;
pub mod version;
