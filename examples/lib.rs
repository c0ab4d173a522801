//! Runnable examples of shmbus: `cargo run --example <name>` (the `[[example]]` targets of
//! this package). This library holds the pieces several examples share: the latency loops,
//! and [`main`], which runs an example the way a program built on shmbus should end.

use std::process::{Child, ExitCode};

pub mod latency;

/// A boxed error, enough for examples.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Runs an example's body and ends the process the documented way:
///
/// - exit status 0 when it returns `Ok`, and also when it stopped because it was asked to
///   terminate (Ctrl-C or SIGTERM, with the node's signal handling on): its ports and node
///   were dropped on the way out, so nothing of it is left behind;
/// - otherwise the error's own sentence on standard error (each cause once, in `Display`
///   form, never `Debug`) and exit status 1.
pub fn main(body: impl FnOnce() -> Result<(), Error>) -> ExitCode {
    match body() {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if let Some(stop) = shmbus::os::signal::termination_requested() => {
            eprintln!("{stop}; everything it made is removed");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {}", sentence(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes, each said once: many errors already include their cause in
/// their own sentence.
pub fn sentence(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

/// Child processes of an example: asked to terminate (SIGTERM) and waited for when dropped,
/// so that an example that stops early, by an error or by Ctrl-C, does not leave them
/// behind. Children built on shmbus with signal handling leave cleanly.
#[derive(Debug, Default)]
pub struct Children {
    children: Vec<Child>,
}

impl Children {
    /// Watches `child` from now on; returns its index.
    pub fn add(&mut self, child: Child) -> usize {
        self.children.push(child);
        self.children.len() - 1
    }

    /// Child `index`.
    pub fn get(&mut self, index: usize) -> &mut Child {
        &mut self.children[index]
    }

    /// Waits for child `index` to end by itself, and fails unless it ended successfully.
    pub fn finish(&mut self, index: usize) -> Result<(), Error> {
        let status = self.children[index].wait()?;
        if !status.success() {
            return Err(format!("a child process failed: {status}").into());
        }
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.children {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = shmbus::os::process::terminate(child.id());
            }
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose cause is not part of its own sentence.
    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("cannot start")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_said_once() {
        let quiet = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(sentence(&quiet), "cannot start: disk on fire");
        let io = std::io::Error::other("disk on fire");
        let outer: Error = format!("cannot start: {io}").into();
        assert_eq!(sentence(outer.as_ref()), "cannot start: disk on fire");
    }
}
