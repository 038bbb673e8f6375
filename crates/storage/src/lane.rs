//! SQLite's write lane: one thread, with an async runtime of its own, that SQLite writes
//! run on, kept on one CPU together with the thread of the writer's connection.
//!
//! Why: sqlx runs each SQLite connection on a thread of its own, so every statement is a
//! hand-off from the task that sends it to that thread and back. Between threads on two CPUs
//! each hand-off must wake the other CPU, which on a virtual machine costs more than most
//! statements (`benches/writes.rs`). On one CPU it is a plain switch between two threads.
//! Reads stay on the server's runtime, across every CPU.

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::StorageError;

/// A handle on the lane, cheap to clone. The thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct Lane {
    handle: Handle,
    _stop: Arc<oneshot::Sender<()>>,
}

impl Lane {
    /// Starts the lane's thread, on the CPU it starts on.
    pub async fn start() -> Result<Lane, StorageError> {
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, started) = oneshot::channel();
        std::thread::Builder::new()
            .name("ladder-writer".into())
            .spawn(move || {
                let everywhere = stay_here();
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    // Its blocking threads (password hashing) go back to every CPU.
                    .on_thread_start(move || restore(everywhere.as_ref()))
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = ready.send(Ok(runtime.handle().clone()));
                        runtime.block_on(async move {
                            let _ = stopped.await;
                        });
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            })
            .map_err(|e| StorageError::Config(format!("cannot start the writer's thread: {e}")))?;
        let handle = started
            .await
            .map_err(|_| StorageError::Config("the writer's thread ended at once".into()))?
            .map_err(|e| StorageError::Config(format!("cannot start the writer's runtime: {e}")))?;
        Ok(Lane {
            handle,
            _stop: Arc::new(stop),
        })
    }

    /// Runs `work` on the lane and returns its output. Dropped before then (the client went
    /// away), it stops `work` where it waits, as dropping `work` itself would.
    pub async fn run<F>(&self, work: F) -> Result<F::Output, StorageError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let mut task = AbortOnDrop(self.handle.spawn(work));
        (&mut task.0)
            .await
            .map_err(|e| StorageError::NotCommitted(format!("the writer's task failed: {e}")))
    }
}

/// A task that does not outlive whoever waits for it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(target_os = "linux")]
type CpuSet = nix::sched::CpuSet;
#[cfg(not(target_os = "linux"))]
type CpuSet = ();

/// Keeps this thread (and the threads it starts) on the CPU it runs on; the CPUs it was
/// allowed before, to give back to the threads that should not stay.
#[cfg(target_os = "linux")]
fn stay_here() -> Option<CpuSet> {
    use nix::sched::{sched_getaffinity, sched_getcpu, sched_setaffinity};
    use nix::unistd::Pid;
    let this = Pid::from_raw(0);
    let everywhere = sched_getaffinity(this).ok()?;
    let cpu = sched_getcpu().ok()?;
    let mut one = CpuSet::new();
    one.set(cpu).ok()?;
    // Not being able to stay only costs speed.
    if let Err(e) = sched_setaffinity(this, &one) {
        tracing::warn!(error = %e, "the writer's thread could not keep to one CPU");
        return None;
    }
    Some(everywhere)
}

#[cfg(not(target_os = "linux"))]
fn stay_here() -> Option<CpuSet> {
    None
}

#[cfg(target_os = "linux")]
fn restore(everywhere: Option<&CpuSet>) {
    if let Some(set) = everywhere {
        let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), set);
    }
}

#[cfg(not(target_os = "linux"))]
fn restore(_everywhere: Option<&CpuSet>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_lanes_thread_and_a_panic_there_is_an_error() {
        let lane = Lane::start().await.expect("start");
        let name = lane
            .run(async { std::thread::current().name().map(str::to_owned) })
            .await
            .expect("run");
        assert_eq!(name.as_deref(), Some("ladder-writer"));
        let failed = lane.run(async { panic!("a bug in a request") }).await;
        assert!(
            matches!(&failed, Err(StorageError::NotCommitted(m)) if m.contains("failed")),
            "{:?}",
            failed.err()
        );
        // The lane goes on after it.
        assert_eq!(lane.run(async { 2 }).await.expect("run"), 2);
    }

    #[tokio::test]
    async fn work_whose_waiter_goes_away_is_stopped() {
        /// Says when it is dropped.
        struct Tell(Option<oneshot::Sender<()>>);
        impl Drop for Tell {
            fn drop(&mut self) {
                if let Some(tell) = self.0.take() {
                    let _ = tell.send(());
                }
            }
        }
        let lane = Lane::start().await.expect("start");
        let (tell, told) = oneshot::channel();
        let tell = Tell(Some(tell));
        let mut waiting = Box::pin(lane.run(async move {
            let _tell = tell;
            std::future::pending::<()>().await
        }));
        // Polled once, so that the work is on the lane; then the waiter goes away.
        std::future::poll_fn(|cx| {
            assert!(waiting.as_mut().poll(cx).is_pending());
            std::task::Poll::Ready(())
        })
        .await;
        drop(waiting);
        tokio::time::timeout(std::time::Duration::from_secs(10), told)
            .await
            .expect("the work was stopped")
            .expect("told");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_lane_keeps_to_one_cpu_and_its_blocking_threads_do_not() {
        use nix::sched::{sched_getaffinity, CpuSet};
        use nix::unistd::Pid;
        fn count(set: CpuSet) -> usize {
            (0..CpuSet::count())
                .filter(|&c| set.is_set(c).unwrap_or(false))
                .count()
        }
        let here = count(sched_getaffinity(Pid::from_raw(0)).expect("ours"));
        let lane = Lane::start().await.expect("start");
        let (on_lane, blocking) = lane
            .run(async {
                let on_lane = count(sched_getaffinity(Pid::from_raw(0)).expect("the lane's"));
                let blocking = tokio::task::spawn_blocking(|| {
                    count(sched_getaffinity(Pid::from_raw(0)).expect("a blocking thread's"))
                })
                .await
                .expect("blocking");
                (on_lane, blocking)
            })
            .await
            .expect("run");
        assert_eq!(on_lane, 1);
        assert_eq!(blocking, here);
    }
}
