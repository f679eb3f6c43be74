//! Thread runtime: CPU topology, pools of pinned workers, and the ordered job window.
//!
//! [`Topology`] reads the NUMA layout from `/sys/devices/system/node/node*/cpulist` (one node
//! holding every core when that is absent) and intersects it with the cores this process may run
//! on. [`Pool`] starts one worker per requested thread and pins each to a core it claims from
//! the process-wide [`CoreClaim`] table — pools running at the same time get disjoint cores
//! while there are enough, filling one NUMA node before the next, so that a worker's buffers
//! (allocated on first touch by the worker itself) stay local — and runs jobs from a shared
//! queue. Results come back tagged with the job's sequence number; [`Ordered`] restores
//! submission order, bounds the jobs in flight ([`jobs_ahead`]) and runs inline with one
//! thread: the BGZF [`ChunkReader`], the BAM, timsTOF and MIDI readers and the IPC encoder
//! use it.
//!
//! [`ChunkReader`]: crate::bgzf::ChunkReader
#![forbid(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::thread::JoinHandle;

use std::sync::mpsc::Receiver;
use std::sync::{Condvar, Mutex};

/// The cores this process may use, grouped by NUMA node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Topology {
    /// Core ids per NUMA node, each list sorted; nodes without usable cores are left out.
    pub(crate) nodes: Vec<Vec<usize>>,
}

impl Topology {
    /// Detects the usable cores and their NUMA nodes.
    pub(crate) fn detect() -> Self {
        let allowed: Vec<usize> = core_affinity::get_core_ids()
            .map(|ids| ids.into_iter().map(|c| c.id).collect())
            .unwrap_or_default();
        let nodes = read_numa_nodes(Path::new("/sys/devices/system/node"));
        Self::from_parts(&allowed, nodes)
    }

    /// Combines the allowed cores with a node layout (exposed for tests).
    pub(crate) fn from_parts(allowed: &[usize], nodes: Vec<Vec<usize>>) -> Self {
        let mut out: Vec<Vec<usize>> = nodes
            .into_iter()
            .map(|cpus| cpus.into_iter().filter(|c| allowed.contains(c)).collect())
            .filter(|v: &Vec<usize>| !v.is_empty())
            .collect();
        // Cores the node files did not mention (or no node files at all) form one more node.
        let mut rest: Vec<usize> = allowed
            .iter()
            .copied()
            .filter(|c| !out.iter().any(|n| n.contains(c)))
            .collect();
        rest.sort_unstable();
        if !rest.is_empty() {
            out.push(rest);
        }
        for n in &mut out {
            n.sort_unstable();
        }
        Self { nodes: out }
    }

    /// All usable cores, node by node.
    pub(crate) fn cores(&self) -> Vec<usize> {
        self.nodes.iter().flatten().copied().collect()
    }
}

/// Reads `node*/cpulist` files under `dir`; an empty list when the directory is absent.
fn read_numa_nodes(dir: &Path) -> Vec<Vec<usize>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut nodes: Vec<(usize, Vec<usize>)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let id: usize = name.to_str()?.strip_prefix("node")?.parse().ok()?;
            let list = std::fs::read_to_string(e.path().join("cpulist")).ok()?;
            Some((id, parse_cpulist(&list)?))
        })
        .collect();
    nodes.sort_by_key(|(id, _)| *id);
    nodes.into_iter().map(|(_, cpus)| cpus).collect()
}

/// Parses a Linux cpulist such as `0-3,8-11,16`. `None` when malformed.
pub(crate) fn parse_cpulist(s: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// Number of threads to use when the caller does not say: the cores this process may use.
pub(crate) fn default_threads() -> usize {
    // `available_parallelism` reads the cgroup quota files on Linux: asked once per process.
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from))
}

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

/// Workers pinned to each core by the pools running now, process-wide.
static CLAIMS: std::sync::Mutex<std::collections::BTreeMap<usize, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The cores one pool's workers are pinned to, taken from the process-wide count of pinned
/// workers per core and given back when dropped.
///
/// Pools that run at the same time (the BGZF inflaters and the BAM decoders, say) get disjoint
/// cores while the machine has enough: each worker takes the core with the fewest workers
/// pinned to it, the first in topology order among equals — so a pool fills one NUMA node
/// before the next, and on a 16-core machine a BAM read's inflaters and decoders do not share
/// cores 0–1 while 2–15 idle. With more workers than cores they share evenly.
#[derive(Debug)]
pub(crate) struct CoreClaim {
    cores: Vec<usize>,
}

impl CoreClaim {
    /// Claims `n` cores of `order` (topology order).
    pub(crate) fn new(order: &[usize], n: usize) -> Self {
        let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
        let cores = choose_cores(order, &claims, n);
        for &c in &cores {
            *claims.entry(c).or_default() += 1;
        }
        Self { cores }
    }
}

impl Drop for CoreClaim {
    fn drop(&mut self) {
        let mut claims = CLAIMS.lock().unwrap_or_else(|e| e.into_inner());
        for c in &self.cores {
            if let Some(k) = claims.get_mut(c) {
                *k -= 1;
                if *k == 0 {
                    claims.remove(c);
                }
            }
        }
    }
}

/// `n` cores of `order` for one pool, given how many workers are pinned to each already: each
/// worker the least-claimed core (counting this pool's own picks), the earliest in `order`
/// among equals. Empty when `order` is.
fn choose_cores(
    order: &[usize],
    claimed: &std::collections::BTreeMap<usize, usize>,
    n: usize,
) -> Vec<usize> {
    let mut load: Vec<usize> = order
        .iter()
        .map(|c| claimed.get(c).copied().unwrap_or(0))
        .collect();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let Some((i, _)) = load.iter().enumerate().min_by_key(|&(i, &l)| (l, i)) else {
            break;
        };
        load[i] += 1;
        out.push(order[i]);
    }
    out
}

impl<J, O> std::fmt::Debug for Pool<J, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.handles.len())
            .finish()
    }
}

impl<J: Send + 'static, O: Send + 'static> Pool<J, O> {
    /// Starts `threads` workers. With `pin`, each worker is pinned to a core of
    /// [`Topology::detect`] claimed for this pool ([`CoreClaim`]: disjoint from the cores of
    /// other running pools while there are enough).
    #[cfg(test)]
    fn spawn<S, I, F>(threads: usize, pin: bool, init: I, work: F) -> std::io::Result<Self>
    where
        I: Fn(usize) -> S + Send + Sync + 'static,
        F: Fn(&mut S, J) -> O + Send + Sync + 'static,
    {
        Self::spawn_named("rawarrow", threads, pin, init, work)
    }

    /// Starts `threads` workers (see `spawn`), named `ROLE-i` (`inflate-0`, `decode-1`, ...): what
    /// profilers and [`crate::stats`] show per thread.
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
    fn threads_split_between_two_stages_add_up() {
        assert_eq!(split_threads(1, 0.6), (0, 0), "one thread: all inline");
        assert_eq!(split_threads(2, 0.6), (1, 1));
        assert_eq!(split_threads(3, 0.6), (2, 1));
        assert_eq!(split_threads(16, 0.6), (10, 6));
        assert_eq!(split_threads(256, 0.6), (154, 102));
        assert_eq!(split_threads(4, 0.99), (3, 1), "each stage keeps a thread");
        for n in 2..300 {
            let (a, b) = split_threads(n, 0.6);
            assert!(a >= 1 && b >= 1 && a + b == n, "{n}");
        }
        assert_eq!((workers(1), workers(2)), (0, 2));
        assert_eq!((jobs_ahead(0), jobs_ahead(4)), (1, 5));
    }

    #[test]
    fn cpulists() {
        assert_eq!(
            parse_cpulist("0-3,8-9,12\n"),
            Some(vec![0, 1, 2, 3, 8, 9, 12])
        );
        assert_eq!(parse_cpulist(""), Some(vec![]));
        assert_eq!(parse_cpulist("3-1"), None);
        assert_eq!(parse_cpulist("a"), None);
    }

    #[test]
    fn topology_orders_by_node_and_respects_affinity() {
        let t = Topology::from_parts(&[0, 1, 2, 5, 9], vec![vec![4, 5, 6, 7], vec![0, 1, 2, 3]]);
        assert_eq!(t.nodes, vec![vec![5], vec![0, 1, 2], vec![9]]);
        assert_eq!(t.cores(), vec![5, 0, 1, 2, 9]);
        let single = Topology::from_parts(&[1, 0], Vec::new());
        assert_eq!(single.nodes, vec![vec![0, 1]]);
    }

    #[test]
    fn concurrent_pools_get_disjoint_cores_node_by_node() {
        // Two nodes of 8 cores, listed node by node as Topology::cores gives them.
        let order: Vec<usize> = (0..16).collect();
        let mut claimed = std::collections::BTreeMap::new();
        let mut take = |n: usize| {
            let cores = choose_cores(&order, &claimed, n);
            for &c in &cores {
                *claimed.entry(c).or_default() += 1;
            }
            cores
        };
        let inflate = take(2);
        let decode = take(2);
        assert_eq!(inflate, vec![0, 1]);
        assert_eq!(
            decode,
            vec![2, 3],
            "the second pool does not share the first's cores"
        );
        let big = take(7);
        assert_eq!(
            big,
            (4..11).collect::<Vec<_>>(),
            "node 0 first, then node 1"
        );
        // Oversubscribed: 5 cores left, 8 workers: the free ones first, then the least loaded.
        let over = take(8);
        assert_eq!(over, vec![11, 12, 13, 14, 15, 0, 1, 2]);
        let max = claimed.values().max().copied();
        assert_eq!(
            max,
            Some(2),
            "no core gets a third worker while others have one"
        );
        assert!(choose_cores(&[], &claimed, 3).is_empty());
    }

    #[test]
    fn claims_are_given_back() {
        // The process-wide table: other tests may hold claims meanwhile, so compare counts.
        let order = [1_000_001, 1_000_002];
        let count = |c: usize| CLAIMS.lock().expect("lock").get(&c).copied().unwrap_or(0);
        let a = CoreClaim::new(&order, 1);
        let b = CoreClaim::new(&order, 1);
        assert_eq!(a.cores.len(), 1);
        assert_ne!(a.cores, b.cores, "two live pools, two cores");
        drop(a);
        drop(b);
        assert_eq!((count(1_000_001), count(1_000_002)), (0, 0));
    }

    #[test]
    fn pool_runs_every_job_and_reports_panics() {
        let pool: Pool<u64, u64> = Pool::spawn(
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

/// The worker threads of a reader's one parallel stage for `-t threads`: none (the calling
/// thread does the work) for one thread.
pub(crate) fn workers(threads: usize) -> usize {
    if threads <= 1 {
        0
    } else {
        threads
    }
}

/// Splits a reader's `total` threads between two stages that run at the same time — `share` of
/// them to the first, at least one each — so that `-t N` means N busy threads in all. One
/// thread: both stages run inline on the calling thread (`(0, 0)`).
pub(crate) fn split_threads(total: usize, share: f64) -> (usize, usize) {
    if total <= 1 {
        return (0, 0);
    }
    let first = ((total as f64 * share).round() as usize).clamp(1, total - 1);
    (first, total - first)
}

/// The jobs a reader keeps in flight for `workers` worker threads: one per worker and one
/// more, so every worker has a job while the consumer takes the oldest result; one when the
/// calling thread does the work (`workers` 0). Two per worker measured the same speed on the
/// 313 MB BAM with 25 % more memory (BENCHMARKS.md).
pub(crate) fn jobs_ahead(workers: usize) -> usize {
    workers + 1
}

/// Batch arenas a reader keeps for recycling: one per job in flight, the batch its consumer
/// holds, and one spare.
pub(crate) fn arenas_kept(workers: usize) -> usize {
    jobs_ahead(workers) + 2
}

/// Jobs run in submission order: on a [`Pool`], or inline on the calling thread.
///
/// Jobs are numbered as they are submitted; finished results wait in a small reorder buffer
/// until every earlier one has been handed out. The number of jobs in flight is bounded by the
/// `ahead` given at construction ([`Ordered::has_room`]). A result known without running a job
/// (an error found while preparing jobs) takes its place in the order with
/// [`Ordered::submit_done`], after the results of the jobs submitted before it. Built with one
/// thread ([`Ordered::spawn_named`]), no thread is started: each job runs on the calling
/// thread when its result is asked for (a panic in it is the caller's, not a
/// [`WorkerPanicked`]).
pub(crate) struct Ordered<J, O> {
    engine: Engine<J, O>,
    ahead: u64,
    submitted: u64,
    emitted: u64,
    pending: std::collections::BTreeMap<u64, O>,
}

/// A job runner on the calling thread: the worker's state and work, as one closure.
type Inline<J, O> = Box<dyn FnMut(J) -> O + Send>;

/// A job queued for the inline runner, or a result already known.
enum Slot<J, O> {
    Job(J),
    Done(O),
}

enum Engine<J, O> {
    Pool(Pool<J, O>),
    Inline(Inline<J, O>, std::collections::VecDeque<Slot<J, O>>),
}

impl<J, O> std::fmt::Debug for Ordered<J, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Ordered");
        match &self.engine {
            Engine::Pool(pool) => d.field("pool", pool),
            Engine::Inline(..) => d.field("pool", &"inline"),
        };
        d.field("in_flight", &(self.submitted - self.emitted))
            .finish()
    }
}

impl<J: Send + 'static, O: Send + 'static> Ordered<J, O> {
    /// Wraps a pool that has no jobs queued yet; at most `ahead` jobs in flight.
    pub(crate) fn new(pool: Pool<J, O>, ahead: usize) -> Self {
        Self::with(Engine::Pool(pool), ahead)
    }

    fn with(engine: Engine<J, O>, ahead: usize) -> Self {
        Self {
            engine,
            ahead: ahead.max(1) as u64,
            submitted: 0,
            emitted: 0,
            pending: std::collections::BTreeMap::new(),
        }
    }

    /// A pool of `threads` workers named after `role` (see [`Pool::spawn_named`]), or with one
    /// thread, the same work run inline on the calling thread; at most `ahead` jobs in flight.
    pub(crate) fn spawn_named<S, I, F>(
        role: &str,
        threads: usize,
        pin: bool,
        ahead: usize,
        init: I,
        work: F,
    ) -> std::io::Result<Self>
    where
        S: Send + 'static,
        I: Fn(usize) -> S + Send + Sync + 'static,
        F: Fn(&mut S, J) -> O + Send + Sync + 'static,
    {
        if threads <= 1 {
            let mut state = init(0);
            let run = move |job: J| work(&mut state, job);
            return Ok(Self::with(
                Engine::Inline(Box::new(run), std::collections::VecDeque::new()),
                ahead,
            ));
        }
        Ok(Self::new(
            Pool::spawn_named(role, threads, pin, init, work)?,
            ahead,
        ))
    }

    /// Like [`Ordered::spawn_named`], but on worker threads even for one thread: for a stage
    /// whose calling thread has other work (the BGZF inflaters and the BAM decoders of one
    /// reader split its threads between them).
    pub(crate) fn spawn_workers<S, I, F>(
        role: &str,
        threads: usize,
        pin: bool,
        ahead: usize,
        init: I,
        work: F,
    ) -> std::io::Result<Self>
    where
        S: Send + 'static,
        I: Fn(usize) -> S + Send + Sync + 'static,
        F: Fn(&mut S, J) -> O + Send + Sync + 'static,
    {
        Ok(Self::new(
            Pool::spawn_named(role, threads, pin, init, work)?,
            ahead,
        ))
    }

    /// Jobs submitted whose results have not been handed out yet.
    pub(crate) fn in_flight(&self) -> u64 {
        self.submitted - self.emitted
    }

    /// Whether another job may be submitted (fewer than `ahead` in flight).
    pub(crate) fn has_room(&self) -> bool {
        self.in_flight() < self.ahead
    }

    /// Queues the next job.
    pub(crate) fn submit(&mut self, job: J) {
        match &mut self.engine {
            Engine::Pool(pool) => pool.submit(self.submitted, job),
            Engine::Inline(_, queue) => queue.push_back(Slot::Job(job)),
        }
        self.submitted += 1;
    }

    /// Queues a result that needs no job: it is handed out after the results of every job
    /// submitted before it.
    pub(crate) fn submit_done(&mut self, out: O) {
        match &mut self.engine {
            Engine::Pool(_) => {
                self.pending.insert(self.submitted, out);
            }
            Engine::Inline(_, queue) => queue.push_back(Slot::Done(out)),
        }
        self.submitted += 1;
    }

    /// The result of the oldest job not yet handed out if it is already finished (inline: the
    /// oldest job, run now); `None` when it is not finished yet or nothing is in flight.
    pub(crate) fn try_next_result(&mut self) -> Option<Outcome<O>> {
        if self.in_flight() == 0 {
            return None;
        }
        if let Engine::Pool(pool) = &self.engine {
            while !self.pending.contains_key(&self.emitted) {
                match pool.try_recv()? {
                    (seq, Ok(out)) => {
                        self.pending.insert(seq, out);
                    }
                    (_, Err(e)) => return Some(Err(e)),
                }
            }
        }
        self.next_result()
    }

    /// The result of the oldest job not yet handed out, waiting for it if needed; `None` when
    /// nothing is in flight.
    pub(crate) fn next_result(&mut self) -> Option<Outcome<O>> {
        if self.in_flight() == 0 {
            return None;
        }
        loop {
            if let Some(out) = self.pending.remove(&self.emitted) {
                self.emitted += 1;
                return Some(Ok(out));
            }
            match &mut self.engine {
                Engine::Inline(run, queue) => {
                    let slot = queue.pop_front().expect("a job is in flight");
                    self.emitted += 1;
                    return Some(Ok(match slot {
                        Slot::Job(job) => run(job),
                        Slot::Done(out) => out,
                    }));
                }
                Engine::Pool(pool) => match pool.recv() {
                    Some((seq, Ok(out))) => {
                        self.pending.insert(seq, out);
                    }
                    Some((_, Err(e))) => return Some(Err(e)),
                    None => return Some(Err(WorkerPanicked)),
                },
            }
        }
    }
}

#[cfg(test)]
mod ordered_tests {
    use super::*;

    #[test]
    fn one_thread_runs_inline_in_order() {
        let caller = std::thread::current().id();
        let mut o = Ordered::spawn_named(
            "test",
            1,
            false,
            8,
            |_| 0u64,
            move |count: &mut u64, n: u64| {
                assert_eq!(
                    std::thread::current().id(),
                    caller,
                    "runs on the calling thread"
                );
                *count += 1;
                (n * n, *count)
            },
        )
        .expect("inline");
        for n in 0..5 {
            o.submit(n);
        }
        for n in 0..5 {
            assert_eq!(o.next_result(), Some(Ok((n * n, n + 1))));
        }
        assert_eq!(o.next_result(), None);
    }

    #[test]
    fn try_next_result_waits_for_nothing_and_keeps_the_order() {
        // Job 0 waits for a signal; job 1 finishes at once but must not overtake it.
        let (go, wait) = crossbeam_channel::bounded::<()>(1);
        let pool = Pool::spawn(
            2,
            false,
            move |_| wait.clone(),
            |wait: &mut crossbeam_channel::Receiver<()>, n: u64| {
                if n == 0 {
                    wait.recv().expect("signal");
                }
                n + 10
            },
        )
        .expect("spawn");
        let mut o = Ordered::new(pool, 8);
        assert_eq!(o.try_next_result(), None, "nothing in flight");
        o.submit(0);
        o.submit(1);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(o.try_next_result(), None, "job 0 is not finished");
        assert_eq!(o.in_flight(), 2);
        go.send(()).expect("signal");
        assert_eq!(o.next_result(), Some(Ok(10)));
        let mut got = None;
        while got.is_none() {
            got = o.try_next_result();
        }
        assert_eq!(got, Some(Ok(11)));
        assert_eq!(o.in_flight(), 0);

        let mut inline =
            Ordered::spawn_named("t", 1, false, 1, |_| (), |_, n: u64| n * 3).expect("inline");
        inline.submit(5);
        assert_eq!(
            inline.try_next_result(),
            Some(Ok(15)),
            "inline jobs run when asked"
        );
    }

    #[test]
    fn results_come_back_in_submission_order() {
        // Early jobs sleep longest, so they finish last.
        let pool = Pool::spawn(
            3,
            false,
            |_| (),
            |_, n: u64| {
                std::thread::sleep(std::time::Duration::from_millis(20 - 2 * n));
                n * n
            },
        )
        .expect("spawn");
        let mut o = Ordered::new(pool, 8);
        assert!(o.next_result().is_none());
        for n in 0..8 {
            o.submit(n);
        }
        assert_eq!(o.in_flight(), 8);
        let got: Vec<u64> = std::iter::from_fn(|| o.next_result())
            .map(|r| r.expect("ok"))
            .collect();
        assert_eq!(got, (0..8).map(|n| n * n).collect::<Vec<_>>());
        assert_eq!(o.in_flight(), 0);
    }

    /// Runs jobs 0..n (job `k` sleeps a pseudo-random time, job `fail` is replaced by an error
    /// known up front, job `panic` panics) through `threads` workers, keeping the window full.
    fn run_window(
        threads: usize,
        n: u64,
        fail: Option<u64>,
        panic: Option<u64>,
    ) -> Vec<Outcome<Result<u64, String>>> {
        let mut o = Ordered::spawn_named(
            "test",
            threads,
            false,
            jobs_ahead(workers(threads)),
            |_| (),
            move |_, k: u64| {
                // xorshift: durations from 0 to 3 ms in no order.
                let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                std::thread::sleep(std::time::Duration::from_micros(x % 3000));
                assert!(Some(k) != panic, "job {k} panics");
                Ok(k * 3)
            },
        )
        .expect("spawn");
        let (mut next, mut out) = (0, Vec::new());
        loop {
            while next < n && o.has_room() {
                if Some(next) == fail {
                    o.submit_done(Err(format!("job {next} failed")));
                } else {
                    o.submit(next);
                }
                next += 1;
            }
            assert!(
                o.in_flight() <= jobs_ahead(workers(threads)) as u64,
                "the window holds"
            );
            match o.next_result() {
                Some(r) => {
                    let stop = !matches!(r, Ok(Ok(_)));
                    out.push(r);
                    if stop {
                        return out;
                    }
                }
                None => return out,
            }
        }
    }

    #[test]
    fn random_durations_keep_the_order_and_inline_equals_threaded() {
        let want: Vec<Outcome<Result<u64, String>>> = (0..60).map(|k| Ok(Ok(k * 3))).collect();
        for threads in [1, 2, 3, 5] {
            assert_eq!(
                run_window(threads, 60, None, None),
                want,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn an_error_in_job_k_comes_after_results_0_to_k() {
        for threads in [1, 2, 4] {
            let got = run_window(threads, 40, Some(17), None);
            assert_eq!(got.len(), 18, "{threads} threads");
            for (k, r) in got[..17].iter().enumerate() {
                assert_eq!(r, &Ok(Ok(k as u64 * 3)));
            }
            assert_eq!(got[17], Ok(Err("job 17 failed".to_string())));
        }
    }

    #[test]
    fn a_worker_panic_is_reported_not_hung() {
        for threads in [2, 4] {
            let got = run_window(threads, 40, None, Some(9));
            assert_eq!(got.last(), Some(&Err(WorkerPanicked)), "{threads} threads");
            assert!(
                got.len() <= 10,
                "nothing after the panicked job is handed out first"
            );
            for (k, r) in got[..got.len() - 1].iter().enumerate() {
                assert_eq!(r, &Ok(Ok(k as u64 * 3)));
            }
        }
    }
}
