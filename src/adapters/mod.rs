//! The ports made real: the AWS SDK clients ([`aws`]), and the dedup store
//! in memory ([`memory_store`]) for the tests and anything that runs the
//! pipeline without AWS.

pub mod aws;
pub mod memory_store;
