//! The G3 runner as its own executable, for the sandbox crate's tests and for hosts that
//! install it beside `skillgate`. Reads a job on stdin, writes evidence on stdout.

fn main() {
    std::process::exit(skillgate_sandbox::native::runner_main());
}
