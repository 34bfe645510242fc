//! G4, the permission gate: is a skill's `allowed-tools` request honest and minimal?
//!
//! `allowed-tools` is a request for privilege, not a sandbox. This crate parses it in the syntax
//! agents use ([`grammar`]), maps each grant to capabilities ([`tools`]), and compares what is
//! declared with what G1 inferred and G3 observed ([`check`]). It also computes the effective
//! grant set at a tier (declared ∩ the tier's ceiling) that `skillgate tier` returns.

pub mod grammar;
pub mod tools;

pub use grammar::{AllowedTools, Grant, Malformed, parse};
pub use tools::{capabilities, effective, sandbox_profile};
