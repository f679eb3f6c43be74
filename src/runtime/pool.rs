//! [`Pool`]: a fixed set of pinned worker threads taking jobs from one queue.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::Receiver;
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;

use super::{CoreClaim, Topology};

/// A job's result, or the news that the worker panicked on it.
pub(crate) type Outcome<O> = Result<O, WorkerPanicked>;

/// A worker panicked while running a job (a bug; reported instead of hanging the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkerPanicked;

/// The jobs of a [`Pool`]: a queue its workers take from, blocking on a condition variable
/// while it is empty — an idle worker sleeps in the kernel instead of spinning or yielding, so
/// more workers than cores cost nothing while they wait. (A channel's receive spins and calls
/// `sched_yield` before it sleeps: a thousand yields per second-long BAM conversion on two
/// cores, taken from the workers that have work.)
struct JobQueue<T> {
    inner: std::sync::Arc<QueueInner<T>>,
}

struct QueueInner<T> {
    /// The jobs queued, and whether the queue is closed.
    state: Mutex<(std::collections::VecDeque<T>, bool)>,
    ready: Condvar,
}

impl<T> Clone for JobQueue<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> JobQueue<T> {
    fn new() -> Self {
        Self {
            inner: std::sync::Arc::new(QueueInner {
                state: Mutex::new((std::collections::VecDeque::new(), false)),
                ready: Condvar::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (std::collections::VecDeque<T>, bool)> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, job: T) {
        self.lock().0.push_back(job);
        self.inner.ready.notify_one();
    }

    /// No more jobs: workers take what is queued, then stop.
    fn close(&self) {
        self.lock().1 = true;
        self.inner.ready.notify_all();
    }

    /// The next job, waiting for one; `None` once the queue is closed and empty.
    fn pop(&self) -> Option<T> {
        let mut q = self.lock();
        loop {
            if let Some(job) = q.0.pop_front() {
                return Some(job);
            }
            if q.1 {
                return None;
            }
            q = self.inner.ready.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A fixed set of pinned worker threads running jobs of type `J` into results of type `O`.
///
/// Each worker owns a state `S` built on the worker itself (so its memory is first touched on
/// the worker's NUMA node), e.g. a reused decompressor. Dropping the pool stops and joins the
/// workers after they finish the jobs already queued.
pub(crate) struct Pool<J, O> {
    jobs: JobQueue<(u64, J)>,
    results: Receiver<(u64, Outcome<O>)>,
    handles: Vec<JoinHandle<()>>,
    /// The cores its workers are pinned to, released when the workers have stopped.
    _cores: Option<CoreClaim>,
}

impl<J, O> std::fmt::Debug for Pool<J, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.handles.len())
            .finish()
    }
}

impl<J: Send + 'static, O: Send + 'static> Pool<J, O> {
    /// Starts `threads` workers named `ROLE-i` (`inflate-0`, `decode-1`, ...: what profilers
    /// and [`crate::stats`] show per thread). With `pin`, each worker is pinned to a core of
    /// [`Topology::detect`] claimed for this pool ([`CoreClaim`]: disjoint from the cores of
    /// other running pools while there are enough).
    pub(crate) fn spawn_named<S, I, F>(
        role: &str,
        threads: usize,
        pin: bool,
        init: I,
        work: F,
    ) -> std::io::Result<Self>
    where
        I: Fn(usize) -> S + Send + Sync + 'static,
        F: Fn(&mut S, J) -> O + Send + Sync + 'static,
    {
        let threads = threads.max(1);
        let claim = pin.then(|| CoreClaim::new(&Topology::detect().cores(), threads));
        let cores = claim.as_ref().map_or(&[][..], |c| &c.cores[..]).to_vec();
        let job_rx = JobQueue::<(u64, J)>::new();
        let (res_tx, res_rx) = std::sync::mpsc::channel();
        let init = std::sync::Arc::new(init);
        let work = std::sync::Arc::new(work);
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let core = (!cores.is_empty()).then(|| cores[i % cores.len()]);
            let (job_rx, res_tx) = (job_rx.clone(), res_tx.clone());
            let (init, work) = (init.clone(), work.clone());
            let handle = std::thread::Builder::new()
                .name(format!("{role}-{i}"))
                .spawn(move || {
                    // Its CPU time is recorded when it stops, for a run's statistics.
                    let _cpu = crate::stats::ExitRecord;
                    if let Some(id) = core {
                        // Pinning is best effort: a refused affinity only costs locality.
                        let _ = core_affinity::set_for_current(core_affinity::CoreId { id });
                    }
                    let mut state = match catch_unwind(AssertUnwindSafe(|| init(i))) {
                        Ok(s) => s,
                        Err(_) => {
                            // Answer every job this worker takes with the failure, so the
                            // caller never waits for a result that cannot come.
                            while let Some((seq, _)) = job_rx.pop() {
                                let _ = res_tx.send((seq, Err(WorkerPanicked)));
                            }
                            return;
                        }
                    };
                    while let Some((seq, job)) = job_rx.pop() {
                        let out = catch_unwind(AssertUnwindSafe(|| work(&mut state, job)))
                            .map_err(|_| WorkerPanicked);
                        if res_tx.send((seq, out)).is_err() {
                            return;
                        }
                    }
                })?;
            handles.push(handle);
        }
        Ok(Self {
            jobs: job_rx,
            results: res_rx,
            handles,
            _cores: claim,
        })
    }

    /// Queues a job with its sequence number.
    pub(crate) fn submit(&self, seq: u64, job: J) {
        self.jobs.push((seq, job));
    }

    /// Waits for the next finished job, in completion order (not submission order).
    pub(crate) fn recv(&self) -> Option<(u64, Outcome<O>)> {
        self.results.recv().ok()
    }

    /// A finished job if one is waiting, without blocking.
    pub(crate) fn try_recv(&self) -> Option<(u64, Outcome<O>)> {
        self.results.try_recv().ok()
    }
}

impl<J, O> Drop for Pool<J, O> {
    fn drop(&mut self) {
        self.jobs.close();
        // Discard results nobody will read so workers never block on a full channel.
        while self.results.try_recv().is_ok() {}
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_runs_every_job_and_reports_panics() {
        let pool: Pool<u64, u64> = Pool::spawn_named(
            "test",
            3,
            true,
            |i| i as u64,
            |_, j: u64| {
                assert!(j != 13, "unlucky");
                j * 2
            },
        )
        .expect("spawn");
        for j in 0..40 {
            pool.submit(j, j);
        }
        let mut got: Vec<(u64, Outcome<u64>)> =
            (0..40).map(|_| pool.recv().expect("result")).collect();
        got.sort_by_key(|(s, _)| *s);
        for (seq, out) in got {
            if seq == 13 {
                assert_eq!(out, Err(WorkerPanicked));
            } else {
                assert_eq!(out, Ok(seq * 2));
            }
        }
    }
}
