//! The threads that the checks which may block (the workspace's
//! filesystem, which may be a hung network mount; a child's `--version`;
//! name resolution) run on: a fixed few, started once by [`start`], before
//! they are needed. Nothing here ever asks the system for a thread later:
//! with the process limit reached (a fork storm in the container), a check
//! still runs on a thread that exists, and where none could be started it
//! fails with the reason, instead of the runtime panicking for want of one.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send + 'static>;

struct Pool {
    jobs: Mutex<SyncSender<Job>>,
}

/// Jobs that may wait for a thread: behind a hung mount, later checks
/// fail at once saying so, instead of piling up.
const QUEUE: usize = 16;

/// The pool, or why it has no thread.
static POOL: OnceLock<Result<Pool, String>> = OnceLock::new();

/// How much stack each thread gets: name resolution and file system
/// calls need little.
const STACK: usize = 256 * 1024;

/// Starts `threads` threads (once; later calls keep the first pool) with
/// every signal blocked, so signals go to the thread that handles them.
/// Returns how many run: fewer when the system refused some.
pub fn start(threads: usize) -> usize {
    let pool = POOL.get_or_init(|| spawn(threads.max(1)));
    match pool {
        Ok(_) => THREADS.load(std::sync::atomic::Ordering::Relaxed),
        Err(_) => 0,
    }
}

static THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn spawn(threads: usize) -> Result<Pool, String> {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
    let (tx, rx) = sync_channel::<Job>(QUEUE);
    let rx = std::sync::Arc::new(Mutex::new(rx));
    let mut old = SigSet::empty();
    let masked = pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    )
    .is_ok();
    let mut started = 0;
    let mut refused = None;
    for i in 0..threads {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("check-{i}"))
            .stack_size(STACK)
            .spawn(move || loop {
                let job = {
                    let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
                    rx.recv()
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    if masked {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
    THREADS.store(started, std::sync::atomic::Ordering::Relaxed);
    match (started, refused) {
        (0, Some(e)) => Err(format!("no thread for the check could be started: {e}")),
        (0, None) => Err("no thread for the check was started".into()),
        _ => Ok(Pool {
            jobs: Mutex::new(tx),
        }),
    }
}

/// Runs `f` on one of the pool's threads and waits for its result; an
/// error when the pool has no thread (never started, or refused by the
/// system). Dropping the future leaves `f` to finish on its own.
pub async fn run<F, T>(f: F) -> Result<T, String>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let pool = match POOL.get() {
        Some(Ok(pool)) => pool,
        Some(Err(why)) => return Err(why.clone()),
        None => return Err("no thread for the check was started".into()),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // Its caller gave up (timed out) while it waited: not worth a thread.
        if !tx.is_closed() {
            let _ = tx.send(f());
        }
    });
    pool.jobs
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .try_send(job)
        .map_err(|e| match e {
            TrySendError::Full(_) => {
                "every check thread is busy (an earlier check hangs, on a stale mount?)".to_string()
            }
            TrySendError::Disconnected(_) => "the check threads are gone".to_string(),
        })?;
    rx.await
        .map_err(|_| "the check's thread ended without an answer".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_run_on_the_threads_started_once() {
        assert!(start(2) >= 1);
        // A second start keeps the pool.
        let before = THREADS.load(std::sync::atomic::Ordering::Relaxed);
        start(8);
        assert_eq!(THREADS.load(std::sync::atomic::Ordering::Relaxed), before);
        let name = run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.unwrap_or_default().starts_with("check-"));
    }
}
