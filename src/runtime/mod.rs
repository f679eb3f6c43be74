//! Thread runtime: CPU topology, pools of pinned workers, and the ordered job window.
//!
//! [`Topology`] reads the NUMA layout from `/sys/devices/system/node/node*/cpulist` (one node
//! holding every core when that is absent) and intersects it with the cores this process may run
//! on. A [`Crew`] starts one worker per requested thread and pins each to a core it claims from
//! the process-wide [`CoreClaim`] table — crews running at the same time get disjoint cores
//! while there are enough, filling one NUMA node before the next, so that a worker's buffers
//! (allocated on first touch by the worker itself) stay local — and runs tasks from one queue.
//! A [`Pool`] runs jobs of one kind, with a state per worker, on a crew of its own or on one it
//! shares (a BAM reader's inflaters and decoders: one crew of `-t N` threads that take
//! whichever job is queued first). Results come back tagged with the job's sequence number;
//! [`Ordered`] restores
//! submission order, bounds the jobs in flight ([`jobs_ahead`]) and runs inline with one
//! thread: the BGZF [`ChunkReader`], the BAM, timsTOF and MIDI readers and the IPC encoder
//! use it.
//!
//! [`ChunkReader`]: crate::bgzf::ChunkReader
#![forbid(unsafe_code)]

mod cores;
mod ordered;
mod pool;

use std::path::Path;

pub(crate) use cores::CoreClaim;
pub(crate) use ordered::Ordered;
pub(crate) use pool::{Crew, Outcome, Pool, WorkerPanicked};

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

/// The worker threads of a reader's one parallel stage for `-t threads`: none (the calling
/// thread does the work) for one thread.
pub(crate) fn workers(threads: usize) -> usize {
    if threads <= 1 {
        0
    } else {
        threads
    }
}

/// How many of a crew's `threads` workers a stage that costs `share` of the crew's CPU keeps
/// busy on average: at least one, at most all. What sizes that stage's window of jobs in flight
/// and its arenas ([`jobs_ahead`], [`arenas_per_pool`]) when it shares the crew with another.
pub(crate) fn share_of(threads: usize, share: f64) -> usize {
    let n = threads.max(1);
    ((n as f64 * share).ceil() as usize).clamp(1, n)
}

/// The jobs a reader keeps in flight for `workers` worker threads: one per worker and one
/// more, so every worker has a job while the consumer takes the oldest result; one when the
/// calling thread does the work (`workers` 0). Two per worker measured the same speed on the
/// 313 MB BAM with 25 % more memory (docs/benchmarks-history.md).
pub(crate) fn jobs_ahead(workers: usize) -> usize {
    workers + 1
}

/// Batch arenas a reader keeps for recycling: one per job in flight, the batch its consumer
/// holds, and one spare.
pub(crate) fn arenas_kept(workers: usize) -> usize {
    jobs_ahead(workers) + 2
}

/// Batch arenas each of `pools` arena pools keeps, for a stage with the window of `stage`
/// workers ([`jobs_ahead`]): its share of [`arenas_kept`], rounded up. A pool serves the
/// workers of one NUMA node (BAM) or one worker (timsTOF, MIDI) and recycles only the memory of
/// the batches they built, so pages stay on the node of the core that first touched them
/// (workers are pinned node by node); the arenas kept stay bounded by the window, not by the
/// number of workers.
pub(crate) fn arenas_per_pool(stage: usize, pools: usize) -> usize {
    arenas_kept(stage).div_ceil(pools.max(1))
}

/// The test hook of worker failures: with `RAWARROW_TEST_PANIC` naming `site` (read once per
/// process), the job panics, so the tests can check that a worker's panic becomes an internal
/// error on every surface (`ErrorKind::Worker`, Python's `RuntimeError`, the C ABI's
/// `RAWARROW_ERROR_INTERNAL`, exit status 1) instead of a hang or a wrong error kind. Costs one
/// load per job otherwise.
pub(crate) fn panic_if_asked(site: &str) {
    static ASKED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let asked = ASKED.get_or_init(|| std::env::var("RAWARROW_TEST_PANIC").ok());
    if asked.as_deref() == Some(site) {
        panic!("RAWARROW_TEST_PANIC={site}: a panic injected for the tests");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stage_sharing_a_crew_gets_its_share_of_the_window() {
        assert_eq!(share_of(1, 0.4), 1);
        assert_eq!(share_of(2, 0.4), 1);
        assert_eq!(share_of(4, 0.4), 2);
        assert_eq!(share_of(16, 0.4), 7);
        assert_eq!(share_of(3, 0.99), 3, "never more than the crew");
        assert_eq!(share_of(0, 0.4), 1, "at least one");
        for n in 1..300 {
            let k = share_of(n, 0.4);
            assert!(k >= 1 && k <= n, "{n}");
        }
        assert_eq!((workers(1), workers(2)), (0, 2));
        assert_eq!((jobs_ahead(0), jobs_ahead(4)), (1, 5));
        // A window of 2 (one worker's worth of decoding): 4 arenas, in one pool or two nodes'.
        assert_eq!(arenas_per_pool(1, 1), 4);
        assert_eq!(arenas_per_pool(1, 2), 2);
        assert_eq!(arenas_per_pool(4, 4), 2);
        assert_eq!(
            arenas_per_pool(0, 0),
            3,
            "inline: all kept by the calling thread"
        );
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
}
