//! What an instance and the collector must agree on, with no web stack and no database: the
//! timestamp format, the payload hash, the checks a received ping passes, GitLab's DevOps Score
//! and its `conv_index` reply, the metadata and error documents, plans and editions, and the signed license format.
//!
//! The browser bundle uses the plain parts (`devops_score`, `edition`, `time`); the parts that
//! hash or sign are behind the `crypto` feature (on by default), and the instance's HTTP client
//! for the collector behind `client`.
#![forbid(unsafe_code)]

#[cfg(feature = "client")]
pub mod client;
pub mod cohort;
pub mod devops_score;
pub mod documents;
pub mod edition;
#[cfg(feature = "crypto")]
pub mod hash;
pub mod ingest;
#[cfg(feature = "crypto")]
pub mod license;
pub mod time;
