//! skillgate where skills run: the guard an agent calls before it activates a skill or runs one
//! of its scripts.
//!
//! A tier is a ceiling at activation (DESIGN.md): T1 instructions only, T2 read-only tools and no
//! scripts, T3 declared tools with scripts inside the runtime sandbox, T4 the full declared
//! capabilities. The guard makes the agent keep it:
//!
//! - [`hook`]: Claude Code's hook protocol, read defensively (bounded, typed, unknown events
//!   passed through) and answered with the exact JSON the agent expects.
//! - [`locate`]: where skills are installed (user, project and plugin skills folders), and which
//!   skill folder a path or a shell command points into.
//! - [`decide`]: the decisions, from the content hash of the installed folder and what the
//!   trust store says about it ([`decide::Ledger`]); nothing a skill's text says is read here.
//! - [`settings`]: installing and removing the hook in Claude Code's `settings.json`.
//!
//! The guard fails closed: a store it cannot read, a skill it cannot hash, a lookup that does not
//! answer in time, all deny, with why.

pub mod decide;
pub mod hook;
pub mod locate;
pub mod settings;
