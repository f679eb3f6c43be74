//! [`Crew`]: a fixed set of pinned worker threads running tasks from one queue; [`Pool`]: jobs
//! of one kind with per-worker state, run on a crew of its own or on one it shares.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
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

/// A task for a crew's worker, run with the worker's number.
type Task = Box<dyn FnOnce(usize) + Send>;

/// A fixed set of pinned worker threads running tasks from one queue, first come first served.
///
/// Every [`Pool`] runs on a crew: one of its own ([`Pool::spawn_named`]) or one it shares with
/// other pools ([`Pool::on`]). A BAM reader's inflaters and decoders share one: `-t N` is N
/// threads that inflate or decode, whichever job was queued first, so neither stage idles while
/// the other has work — with the threads split between two pools, the one inflate thread of
/// `-t 2` was the bottleneck while the decode thread waited for it. Dropping the last handle
/// stops the workers after the tasks already queued and joins them.
pub(crate) struct Crew {
    jobs: JobQueue<Task>,
    handles: Vec<JoinHandle<()>>,
    /// The NUMA node (position in [`Topology::nodes`]) of each worker's core; 0 unpinned.
    nodes: Vec<usize>,
    /// The cores its workers are pinned to, released when the workers have stopped.
    _cores: Option<CoreClaim>,
}

impl std::fmt::Debug for Crew {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crew")
            .field("threads", &self.handles.len())
            .finish()
    }
}

/// One crew is itself only (so settings that name a crew compare by identity).
impl PartialEq for Crew {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for Crew {}

impl Crew {
    /// Starts `threads` workers named `ROLE-i` (`inflate-0`, `bam-1`, ...: what profilers and
    /// [`crate::stats`] show per thread). With `pin`, each worker is pinned to a core of
    /// [`Topology::detect`] claimed for this crew ([`CoreClaim`]: disjoint from the cores of
    /// other running crews while there are enough).
    pub(crate) fn spawn(role: &str, threads: usize, pin: bool) -> std::io::Result<Arc<Self>> {
        let threads = threads.max(1);
        let topology = pin.then(Topology::detect);
        let claim = topology
            .as_ref()
            .map(|t| CoreClaim::new(&t.cores(), threads));
        let cores = claim.as_ref().map_or(&[][..], |c| &c.cores[..]).to_vec();
        let node_of = |i: usize| -> usize {
            let (Some(t), Some(core)) = (&topology, cores.get(i % cores.len().max(1))) else {
                return 0;
            };
            t.nodes.iter().position(|n| n.contains(core)).unwrap_or(0)
        };
        // Built first, so that a failed start stops and joins the workers already started.
        let mut crew = Self {
            jobs: JobQueue::new(),
            handles: Vec::with_capacity(threads),
            nodes: (0..threads).map(node_of).collect(),
            _cores: claim,
        };
        for i in 0..threads {
            let core = (!cores.is_empty()).then(|| cores[i % cores.len()]);
            let jobs = crew.jobs.clone();
            let handle = std::thread::Builder::new()
                .name(format!("{role}-{i}"))
                .spawn(move || {
                    // Its CPU time is recorded when it stops, for a run's statistics.
                    let _cpu = crate::stats::ExitRecord;
                    if let Some(id) = core {
                        // Pinning is best effort: a refused affinity only costs locality.
                        let _ = core_affinity::set_for_current(core_affinity::CoreId { id });
                    }
                    while let Some(task) = jobs.pop() {
                        // A task reports its own panic; this only keeps the worker alive.
                        let _ = catch_unwind(AssertUnwindSafe(|| task(i)));
                    }
                })?;
            crew.handles.push(handle);
        }
        Ok(Arc::new(crew))
    }

    /// Its number of workers.
    pub(crate) fn threads(&self) -> usize {
        self.handles.len()
    }

    /// The NUMA node of each worker (by worker number): what state shared by the workers of
    /// one node is keyed by (a BAM reader's batch arenas). All 0 when the workers are not
    /// pinned or the machine has one node.
    pub(crate) fn nodes(&self) -> &[usize] {
        &self.nodes
    }

    /// How many NUMA nodes its workers are on.
    pub(crate) fn node_count(&self) -> usize {
        self.nodes
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }

    /// Queues `task` for the next free worker, with no result to wait for: housekeeping the
    /// calling thread hands off (releasing consumed input pages, mapping the next ones). Tasks
    /// still queued when the crew stops are run first.
    pub(crate) fn run(&self, task: impl FnOnce() + Send + 'static) {
        self.jobs.push(Box::new(move |_| task()));
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.jobs.close();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// What a pool's tasks share: its work, with each worker's state, and where results go.
struct Lane<J, O> {
    role: &'static str,
    run: Box<dyn Fn(usize, J) -> O + Send + Sync>,
    results: Sender<(u64, Outcome<O>)>,
    /// The pool was dropped: tasks still queued are skipped.
    dropped: AtomicBool,
}

/// Jobs of type `J` run into results of type `O` on the workers of a [`Crew`].
///
/// Each worker keeps a state `S` for this pool, built on the worker itself when it takes the
/// pool's first job (so its memory is first touched on the worker's NUMA node), e.g. a reused
/// decompressor; a job that panics is answered with [`WorkerPanicked`] and the worker's state is
/// built afresh for its next job. Dropping the pool skips its jobs still queued; the crew stops
/// when its last pool is dropped.
pub(crate) struct Pool<J, O> {
    crew: Arc<Crew>,
    /// Let go when the pool is dropped (see `freed_on_worker`).
    lane: Option<Arc<Lane<J, O>>>,
    /// The same lane, untyped: what the pool hands to a worker when it is dropped, so the last
    /// reference, and with it the workers' states, is freed there.
    freed_on_worker: Option<Arc<dyn Send + Sync>>,
    results: Receiver<(u64, Outcome<O>)>,
}

impl<J, O> std::fmt::Debug for Pool<J, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("role", &self.lane.as_ref().map(|l| l.role))
            .field("threads", &self.crew.threads())
            .finish()
    }
}

impl<J: Send + 'static, O: Send + 'static> Pool<J, O> {
    /// Starts a crew of its own: `threads` workers named `ROLE-i` (see [`Crew::spawn`]).
    pub(crate) fn spawn_named<S, I, F>(
        role: &'static str,
        threads: usize,
        pin: bool,
        init: I,
        work: F,
    ) -> std::io::Result<Self>
    where
        S: Send + 'static,
        I: Fn(usize) -> S + Send + Sync + 'static,
        F: Fn(&mut S, J) -> O + Send + Sync + 'static,
    {
        Ok(Self::on(
            &Crew::spawn(role, threads, pin)?,
            role,
            init,
            work,
        ))
    }

    /// Runs its jobs on `crew`, beside the crew's other pools; `role` names its share of the
    /// workers' time in a run's statistics.
    pub(crate) fn on<S, I, F>(crew: &Arc<Crew>, role: &'static str, init: I, work: F) -> Self
    where
        S: Send + 'static,
        I: Fn(usize) -> S + Send + Sync + 'static,
        F: Fn(&mut S, J) -> O + Send + Sync + 'static,
    {
        let states: Vec<Mutex<Option<S>>> = (0..crew.threads()).map(|_| Mutex::new(None)).collect();
        // Only worker `i` takes state `i`'s lock: never contended.
        let run = move |i: usize, job: J| {
            let slot = &states[i];
            let mut state = slot.lock().unwrap_or_else(|poisoned| {
                // The last job panicked midway: its state is not trusted again.
                let mut s = poisoned.into_inner();
                *s = None;
                slot.clear_poison();
                s
            });
            work(state.get_or_insert_with(|| init(i)), job)
        };
        let (results, rx) = std::sync::mpsc::channel();
        let lane = Arc::new(Lane {
            role,
            run: Box::new(run),
            results,
            dropped: AtomicBool::new(false),
        });
        Self {
            crew: crew.clone(),
            lane: Some(lane.clone()),
            freed_on_worker: Some(lane),
            results: rx,
        }
    }

    /// The crew its jobs run on.
    pub(crate) fn crew(&self) -> &Arc<Crew> {
        &self.crew
    }

    /// Queues a job with its sequence number.
    pub(crate) fn submit(&self, seq: u64, job: J) {
        let lane = self
            .lane
            .clone()
            .expect("a pool has its lane until dropped");
        self.crew.jobs.push(Box::new(move |worker| {
            if lane.dropped.load(Ordering::Relaxed) {
                return;
            }
            let busy = crate::stats::TaskClock::start();
            let out = catch_unwind(AssertUnwindSafe(|| (lane.run)(worker, job)))
                .map_err(|_| WorkerPanicked);
            busy.stop(lane.role);
            let _ = lane.results.send((seq, out));
        }));
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
        if let Some(lane) = self.lane.take() {
            lane.dropped.store(true, Ordering::Relaxed);
        }
        // The workers' states (decompressors, batch builders and their arenas) are freed on a
        // worker, not on the thread dropping the pool: the typed reference is gone already.
        if let Some(lane) = self.freed_on_worker.take() {
            self.crew.run(move || drop(lane));
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

    #[test]
    fn pools_sharing_a_crew_each_keep_their_order_and_state() {
        let crew = Crew::spawn("test", 2, false).expect("crew");
        let inits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = inits.clone();
        let squares: Pool<u64, (u64, String)> = Pool::on(
            &crew,
            "square",
            move |i| {
                counted.fetch_add(1, Ordering::SeqCst);
                (i, std::thread::current().name().map(str::to_owned))
            },
            |state: &mut (usize, Option<String>), n: u64| {
                let here = std::thread::current().name().map(str::to_owned);
                assert_eq!(state.1, here, "a worker's state was built on that worker");
                (n * n, here.unwrap_or_default())
            },
        );
        let negs: Pool<i64, i64> = Pool::on(&crew, "negate", |_| (), |_, n: i64| -n);
        for n in 0..50 {
            squares.submit(n, n);
            negs.submit(n, -(n as i64));
        }
        let mut got: Vec<(u64, Outcome<(u64, String)>)> =
            (0..50).map(|_| squares.recv().expect("result")).collect();
        got.sort_by_key(|(s, _)| *s);
        for (seq, out) in got {
            let (sq, thread) = out.expect("no panic");
            assert_eq!(sq, seq * seq);
            assert!(thread == "test-0" || thread == "test-1", "{thread}");
        }
        let mut negs_got: Vec<(u64, Outcome<i64>)> =
            (0..50).map(|_| negs.recv().expect("result")).collect();
        negs_got.sort_by_key(|(s, _)| *s);
        assert!(negs_got.iter().all(|(s, r)| *r == Ok(*s as i64)));
        assert!(
            inits.load(Ordering::SeqCst) <= 2,
            "one state per worker, not per job"
        );
    }

    #[test]
    fn a_busy_stage_does_not_hold_the_other_back() {
        // Pool A's job waits until pool B's job has run. With the crew's two workers shared,
        // the second worker takes B's job while the first waits; a stage with a worker of its
        // own would be needed otherwise. (The wait has a deadline so a failure cannot hang.)
        let crew = Crew::spawn("test", 2, false).expect("crew");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(Mutex::new(rx));
        let a: Pool<(), bool> = Pool::on(
            &crew,
            "a",
            move |_| rx.clone(),
            |rx: &mut Arc<Mutex<Receiver<()>>>, ()| {
                let rx = rx.lock().expect("lock");
                rx.recv_timeout(std::time::Duration::from_secs(20)).is_ok()
            },
        );
        let b: Pool<(), ()> = Pool::on(
            &crew,
            "b",
            move |_| tx.clone(),
            |tx, ()| {
                tx.send(()).expect("a waits");
            },
        );
        a.submit(0, ());
        b.submit(0, ());
        assert_eq!(b.recv(), Some((0, Ok(()))));
        assert_eq!(
            a.recv(),
            Some((0, Ok(true))),
            "b's job ran while a's waited"
        );
    }

    #[test]
    fn a_panic_rebuilds_the_state_and_a_dropped_pool_skips_its_queue() {
        let crew = Crew::spawn("test", 1, false).expect("crew");
        let pool: Pool<u64, u64> = Pool::on(
            &crew,
            "count",
            |_| 0u64,
            |seen: &mut u64, n: u64| {
                *seen += 1;
                assert!(n != 3, "job 3 panics");
                *seen
            },
        );
        for n in 0..6 {
            pool.submit(n, n);
        }
        let got: Vec<(u64, Outcome<u64>)> = (0..6).map(|_| pool.recv().expect("result")).collect();
        // One worker: jobs run in order; after the panic the count starts again.
        assert_eq!(
            got,
            vec![
                (0, Ok(1)),
                (1, Ok(2)),
                (2, Ok(3)),
                (3, Err(WorkerPanicked)),
                (4, Ok(1)),
                (5, Ok(2))
            ]
        );

        // A gate holds the only worker while a second pool queues jobs and is dropped.
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let holder: Pool<(), ()> = Pool::on(
            &crew,
            "gate",
            move |_| gate.clone(),
            |g, ()| {
                let _ = g.lock().expect("lock").recv();
            },
        );
        holder.submit(0, ());
        let ran = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = ran.clone();
        let dropped: Pool<(), ()> = Pool::on(
            &crew,
            "dropped",
            move |_| counter.clone(),
            |c, ()| {
                c.fetch_add(1, Ordering::SeqCst);
            },
        );
        for n in 0..20 {
            dropped.submit(n, ());
        }
        drop(dropped);
        open.send(()).expect("gate");
        assert_eq!(holder.recv(), Some((0, Ok(()))));
        drop(holder);
        drop(pool);
        drop(crew); // the last handle: joins after the queue is run
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "a dropped pool's queued jobs are skipped"
        );
    }

    #[test]
    fn a_dropped_pool_frees_its_workers_states_on_a_worker() {
        /// Says on which thread it was dropped.
        struct State(std::sync::mpsc::Sender<Option<String>>);
        impl Drop for State {
            fn drop(&mut self) {
                let name = std::thread::current().name().map(str::to_owned);
                let _ = self.0.send(name);
            }
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let crew = Crew::spawn("free", 2, false).expect("crew");
        let pool: Pool<u64, u64> = Pool::on(&crew, "s", move |_| State(tx.clone()), |_, n| n);
        for n in 0..8 {
            pool.submit(n, n);
        }
        for _ in 0..8 {
            let (seq, out) = pool.recv().expect("result");
            assert_eq!(out, Ok(seq));
        }
        drop(pool);
        drop(crew);
        let dropped: Vec<Option<String>> = rx.iter().collect();
        assert!(!dropped.is_empty(), "states were built");
        for name in dropped {
            assert!(
                name.as_deref().is_some_and(|n| n.starts_with("free-")),
                "dropped on {name:?}, not on a worker"
            );
        }
    }

    #[test]
    fn each_worker_knows_its_numa_node() {
        let loose = Crew::spawn("test", 3, false).expect("crew");
        assert_eq!(loose.nodes(), &[0, 0, 0], "unpinned: one node");
        assert_eq!(loose.node_count(), 1);
        let topology = Topology::detect();
        let pinned = Crew::spawn("test", 3, true).expect("crew");
        assert_eq!(pinned.nodes().len(), 3);
        for (i, &n) in pinned.nodes().iter().enumerate() {
            let core = pinned._cores.as_ref().expect("pinned").cores[i % 3];
            assert!(
                topology.nodes[n].contains(&core),
                "worker {i}: core {core} on node {n}"
            );
        }
    }

    #[test]
    fn housekeeping_runs_on_a_worker_before_the_crew_stops() {
        let crew = Crew::spawn("keep", 2, false).expect("crew");
        let (tx, rx) = std::sync::mpsc::channel();
        for k in 0..10 {
            let tx = tx.clone();
            crew.run(move || {
                let name = std::thread::current().name().map(str::to_owned);
                tx.send((k, name)).expect("send");
            });
        }
        drop(crew);
        drop(tx);
        let mut got: Vec<(i32, Option<String>)> = rx.iter().collect();
        got.sort();
        assert_eq!(got.len(), 10, "every task ran before the workers stopped");
        assert!(got
            .iter()
            .all(|(_, n)| n.as_deref().is_some_and(|n| n.starts_with("keep-"))));
    }
}
