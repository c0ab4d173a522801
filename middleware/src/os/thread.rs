//! This process's threads: found by name in `/proc/self/task`, and how the scheduler
//! treats them.
//!
//! The bridge uses it to keep Zenoh's transmit thread from preempting the thread that
//! hands it a message (see `shmbus-zenoh`): a `SCHED_BATCH` thread keeps its fair share of
//! the CPU, but its wake-up never preempts the thread that is running.

use std::path::Path;

use rustix::io::Errno;

/// Failure of [`batch_threads`].
#[derive(Debug, thiserror::Error)]
pub enum ThreadPolicyError {
    /// `/proc/self/task` could not be read.
    #[error("cannot list this process's threads in /proc/self/task: {0} (is /proc mounted?)")]
    List(#[source] std::io::Error),
    /// The kernel refused the policy for one thread.
    #[error("cannot make thread {tid} ({name}) a batch thread (sched_setscheduler): {errno}")]
    Policy {
        /// The thread's id.
        tid: i32,
        /// The thread's name.
        name: String,
        /// The error from `sched_setscheduler(2)`.
        errno: Errno,
    },
}

/// Makes every thread of this process whose name `chosen` accepts a batch thread
/// (`SCHED_BATCH`, nice unchanged) and returns how many there are. Threads that end
/// meanwhile are skipped. Any process may do this to its own threads; no privilege is
/// needed.
pub fn batch_threads(chosen: impl Fn(&str) -> bool) -> Result<usize, ThreadPolicyError> {
    let mut count = 0;
    for entry in std::fs::read_dir("/proc/self/task").map_err(ThreadPolicyError::List)? {
        let entry = entry.map_err(ThreadPolicyError::List)?;
        let Some(tid) = entry
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        let Some(name) = thread_name(&entry.path()) else {
            continue;
        };
        if !chosen(&name) {
            continue;
        }
        match set_batch(tid) {
            Ok(()) => count += 1,
            // The thread ended after it was listed.
            Err(Errno::SRCH) => {}
            Err(errno) => {
                tracing::debug!(tid, %name, %errno, "sched_setscheduler refused SCHED_BATCH");
                return Err(ThreadPolicyError::Policy { tid, name, errno });
            }
        }
    }
    Ok(count)
}

/// The name of the thread whose `/proc` folder is `task`, if it is still there.
fn thread_name(task: &Path) -> Option<String> {
    let comm = std::fs::read_to_string(task.join("comm")).ok()?;
    Some(comm.trim_end_matches('\n').to_owned())
}

fn set_batch(tid: i32) -> Result<(), Errno> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid, initialised `sched_param` that outlives the call, which
    // only reads it; a `tid` that names no thread (or one of another process) is an error
    // return, not undefined behaviour.
    let rc = unsafe { libc::sched_setscheduler(tid, libc::SCHED_BATCH, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    }
}

/// Whether thread `tid` (of any process this one may inspect) is a batch thread.
pub fn is_batch(tid: i32) -> Result<bool, Errno> {
    // SAFETY: takes a plain integer; an unknown `tid` is an error return.
    let rc = unsafe { libc::sched_getscheduler(tid) };
    if rc >= 0 {
        Ok(rc == libc::SCHED_BATCH)
    } else {
        Err(Errno::from_raw_os_error(
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        ))
    }
}

/// The calling thread's id.
#[cfg(test)]
fn current_tid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_thread_becomes_a_batch_thread_and_others_stay() {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let named = std::thread::Builder::new()
            .name("shmbus-t-batch".into())
            .spawn(move || {
                tid_tx.send(current_tid()).unwrap();
                let _ = done_rx.recv();
            })
            .unwrap();
        let tid = tid_rx.recv().unwrap();
        assert_eq!(is_batch(tid), Ok(false));
        assert_eq!(batch_threads(|name| name == "shmbus-t-batch").unwrap(), 1);
        assert_eq!(is_batch(tid), Ok(true));
        // This (test) thread is not named so: untouched.
        assert_eq!(is_batch(current_tid()), Ok(false));
        assert_eq!(batch_threads(|name| name == "shmbus-t-none").unwrap(), 0);
        done_tx.send(()).unwrap();
        named.join().unwrap();
    }
}
