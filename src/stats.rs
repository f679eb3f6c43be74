//! Run statistics: wall time per phase as the calling thread sees it, CPU time per thread and
//! role, bytes in and out, peak memory. What `--stats PATH` writes as JSON.
//!
//! The pipeline overlaps its stages, so phases are measured where the calling thread spends
//! its time: `open` (reading headers and metadata, starting nothing else), `read` (waiting for
//! the next finished batch: inflating and decoding happen on the workers meanwhile), `write`
//! (handing each batch to the output's writer thread, or with one thread encoding and writing
//! it) and `finish` (the last batches, the output's footer and rename). They add up to the wall
//! time. Where the CPU went is per thread: the calling thread, and each worker by role
//! (`inflate`, `decode`, `frames` for timsTOF, `midi`, `encode`, `write`), from the kernel's per-thread
//! run time (`/proc/self/task/*/schedstat`, sampled after every batch, so a worker that has
//! already stopped keeps its last figure).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Recorders running now; worker threads record their CPU time at exit only then.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// Workers that stopped while a recorder ran: thread id, name, run time in nanoseconds.
static EXITED: Mutex<Vec<(String, String, u64)>> = Mutex::new(Vec::new());

/// Held by a worker thread: when it drops (the thread stops), the thread's run time is kept for
/// the running [`Recorder`]s, which could not sample it any more.
pub(crate) struct ExitRecord;

impl Drop for ExitRecord {
    fn drop(&mut self) {
        if ACTIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let read = |f: &str| std::fs::read_to_string(format!("/proc/thread-self/{f}")).ok();
        let tid = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        let ns = read("schedstat").and_then(|s| s.split_whitespace().next()?.parse().ok());
        let name = read("comm").map(|c| c.trim().to_owned());
        if let (Some(tid), Some(ns), Some(name)) = (tid, ns, name) {
            if let Ok(mut v) = EXITED.lock() {
                v.push((tid, name, ns));
            }
        }
    }
}

/// Time each worker spent on each role's tasks while a recorder ran: thread name, role,
/// nanoseconds. A worker of a shared crew (a BAM reader's, which inflates and decodes) has its CPU
/// time divided between the roles in proportion.
static BUSY: Mutex<BTreeMap<String, BTreeMap<&'static str, u64>>> = Mutex::new(BTreeMap::new());

/// Times one task on a worker, for [`BUSY`]; reads no clock while no recorder runs.
pub(crate) struct TaskClock(Option<Instant>);

impl TaskClock {
    /// Starts timing a task.
    pub(crate) fn start() -> Self {
        Self((ACTIVE.load(Ordering::Relaxed) > 0).then(Instant::now))
    }

    /// The task of `role` ended: its time goes to this thread's share of the role.
    pub(crate) fn stop(self, role: &'static str) {
        let thread = std::thread::current();
        let (Some(started), Some(name)) = (self.0, thread.name()) else {
            return;
        };
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut busy = BUSY.lock().unwrap_or_else(|e| e.into_inner());
        if !busy.contains_key(name) {
            busy.insert(name.to_owned(), BTreeMap::new());
        }
        if let Some(roles) = busy.get_mut(name) {
            *roles.entry(role).or_default() += ns;
        }
    }
}

/// CPU time of one thread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ThreadCpu {
    /// Thread name (`inflate-0`, ...; the calling thread is `main`).
    pub(crate) name: String,
    /// What it did: the name without its number (`inflate`, `decode`, ...). A worker of a
    /// shared crew (`bam-0`: a BAM reader's, which inflates and decodes) has one entry per role,
    /// its CPU time divided in proportion to the time its tasks of each role took.
    pub(crate) role: String,
    /// Seconds on a CPU.
    pub(crate) cpu_seconds: f64,
}

/// Statistics of one conversion.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Stats {
    /// Bytes of the inputs read.
    pub(crate) input_bytes: u64,
    /// Rows written (records, peaks or notes).
    pub(crate) rows: u64,
    /// Bytes of the output file (0 for standard output or a device).
    pub(crate) output_bytes: u64,
    /// Wall time, seconds.
    pub(crate) wall_seconds: f64,
    /// Opening inputs and reading headers or metadata.
    pub(crate) open_seconds: f64,
    /// Waiting for batches (inflate and decode on the workers).
    pub(crate) read_seconds: f64,
    /// Handing batches to the output's writer thread (with one thread: encoding and writing
    /// them).
    pub(crate) write_seconds: f64,
    /// Finishing the output (the batches still in flight, footer, flush, rename).
    pub(crate) finish_seconds: f64,
    /// CPU time per thread: the calling thread first, then workers by name.
    pub(crate) threads: Vec<ThreadCpu>,
    /// Peak resident memory of the process, bytes.
    pub(crate) peak_rss_bytes: u64,
}

impl Stats {
    /// CPU seconds of every thread together.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        self.threads.iter().map(|t| t.cpu_seconds).sum()
    }

    /// CPU seconds of the calling thread.
    pub(crate) fn calling_thread_cpu_seconds(&self) -> f64 {
        self.threads
            .iter()
            .filter(|t| t.role == "main")
            .map(|t| t.cpu_seconds)
            .sum()
    }

    /// The statistics as a JSON object (the `--stats` file).
    pub(crate) fn to_json(&self) -> String {
        let mut roles: BTreeMap<&str, f64> = BTreeMap::new();
        for t in &self.threads {
            *roles.entry(&t.role).or_default() += t.cpu_seconds;
        }
        let threads: Vec<String> = self
            .threads
            .iter()
            .map(|t| {
                format!(
                    "{{\"name\": {}, \"role\": {}, \"cpu_seconds\": {:.6}}}",
                    json_string(&t.name),
                    json_string(&t.role),
                    t.cpu_seconds
                )
            })
            .collect();
        let roles: Vec<String> = roles
            .iter()
            .map(|(r, s)| format!("{}: {s:.6}", json_string(r)))
            .collect();
        format!(
            "{{\n  \"input_bytes\": {},\n  \"rows\": {},\n  \"output_bytes\": {},\n  \
             \"wall_seconds\": {:.6},\n  \"phases\": {{\"open\": {:.6}, \"read\": {:.6}, \
             \"write\": {:.6}, \"finish\": {:.6}}},\n  \"cpu_seconds\": {:.6},\n  \
             \"calling_thread_cpu_seconds\": {:.6},\n  \"cpu_seconds_by_role\": {{{}}},\n  \
             \"threads\": [{}],\n  \"peak_rss_bytes\": {}\n}}\n",
            self.input_bytes,
            self.rows,
            self.output_bytes,
            self.wall_seconds,
            self.open_seconds,
            self.read_seconds,
            self.write_seconds,
            self.finish_seconds,
            self.cpu_seconds(),
            self.calling_thread_cpu_seconds(),
            roles.join(", "),
            threads.join(", "),
            self.peak_rss_bytes
        )
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Which phase the calling thread is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Opening inputs.
    Open,
    /// Waiting for a batch.
    Read,
    /// Encoding and writing a batch.
    Write,
    /// Finishing the output.
    Finish,
}

/// Collects [`Stats`] while a conversion runs: create it before opening the inputs, switch
/// phases as the calling thread moves on, [`sample`](Recorder::sample) after each batch.
#[derive(Debug)]
pub(crate) struct Recorder {
    started: Instant,
    phase: Phase,
    since: Instant,
    seconds: [f64; 4],
    main_tid: Option<String>,
    /// Per thread id: name and the largest run time seen, nanoseconds.
    threads: BTreeMap<String, (String, u64)>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// Starts the clock, in the `open` phase.
    pub(crate) fn new() -> Self {
        let now = Instant::now();
        // The calling thread's id: `/proc/thread-self` links to `PID/task/TID`.
        let main_tid = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        if ACTIVE.fetch_add(1, Ordering::Relaxed) == 0 {
            BUSY.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
        Self {
            started: now,
            phase: Phase::Open,
            since: now,
            seconds: [0.0; 4],
            main_tid,
            threads: BTreeMap::new(),
        }
    }

    /// Enters `phase` (the time so far goes to the phase being left).
    pub(crate) fn phase(&mut self, phase: Phase) {
        let now = Instant::now();
        self.seconds[self.phase as usize] += (now - self.since).as_secs_f64();
        self.phase = phase;
        self.since = now;
    }

    /// Reads every thread's run time so far (workers that stop later keep this figure).
    pub(crate) fn sample(&mut self) {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        for t in tasks.flatten() {
            let dir = t.path();
            let tid = t.file_name().to_string_lossy().into_owned();
            let ns = std::fs::read_to_string(dir.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok());
            let Some(ns) = ns else { continue };
            let name = if Some(&tid) == self.main_tid.as_ref() {
                "main".to_owned()
            } else {
                std::fs::read_to_string(dir.join("comm"))
                    .map(|c| c.trim().to_owned())
                    .unwrap_or_default()
            };
            // The latest name: a thread just started may still carry its parent's.
            let e = self.threads.entry(tid).or_insert((String::new(), 0));
            e.0 = name;
            e.1 = e.1.max(ns);
        }
    }

    /// The statistics: `rows` written from `input_bytes`, into `output` (a file, or `None`).
    pub(crate) fn finish(
        mut self,
        rows: u64,
        input_bytes: u64,
        output: Option<&std::path::Path>,
    ) -> Stats {
        self.sample();
        self.phase(self.phase);
        let wall = self.started.elapsed().as_secs_f64();
        if let Ok(mut exited) = EXITED.lock() {
            for (tid, name, ns) in exited.drain(..) {
                let e = self.threads.entry(tid).or_insert((String::new(), 0));
                e.0 = name;
                e.1 = e.1.max(ns);
            }
        }
        let busy = BUSY.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut threads: Vec<ThreadCpu> = std::mem::take(&mut self.threads)
            .into_values()
            .filter(|(_, ns)| *ns > 0)
            .flat_map(|(name, ns)| {
                let roles = busy.get(name.as_str());
                split_by_role(name.clone(), ns, roles)
            })
            .collect();
        threads.sort_by(|a, b| (a.role != "main", &a.name).cmp(&(b.role != "main", &b.name)));
        let output_bytes = output
            .and_then(|p| std::fs::metadata(p).ok())
            .filter(std::fs::Metadata::is_file)
            .map_or(0, |m| m.len());
        Stats {
            input_bytes,
            rows,
            output_bytes,
            wall_seconds: wall,
            open_seconds: self.seconds[Phase::Open as usize],
            read_seconds: self.seconds[Phase::Read as usize],
            write_seconds: self.seconds[Phase::Write as usize],
            finish_seconds: self.seconds[Phase::Finish as usize],
            threads,
            peak_rss_bytes: peak_rss(),
        }
    }
}

/// A thread's CPU time as [`ThreadCpu`]s: one per role it ran tasks of (`busy`: nanoseconds
/// per role), in proportion to the time it spent on each; otherwise one, whose role is the
/// thread's name without its number.
fn split_by_role(name: String, ns: u64, busy: Option<&BTreeMap<&str, u64>>) -> Vec<ThreadCpu> {
    let seconds = ns as f64 / 1e9;
    let total: u64 = busy.map_or(0, |b| b.values().sum());
    match busy {
        Some(roles) if total > 0 => roles
            .iter()
            .map(|(role, &t)| ThreadCpu {
                name: name.clone(),
                role: (*role).to_owned(),
                cpu_seconds: seconds * t as f64 / total as f64,
            })
            .collect(),
        _ => vec![ThreadCpu {
            role: name
                .rsplit_once('-')
                .filter(|(_, n)| n.bytes().all(|b| b.is_ascii_digit()))
                .map_or(name.clone(), |(r, _)| r.to_owned()),
            name,
            cpu_seconds: seconds,
        }],
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Peak resident set of this process (`VmHWM`), bytes; 0 where the system does not say.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_add_up_and_threads_are_seen() {
        let mut r = Recorder::new();
        std::thread::sleep(std::time::Duration::from_millis(20));
        r.phase(Phase::Read);
        let worker = std::thread::Builder::new()
            .name("decode-0".into())
            .spawn(|| {
                // 30 ms of CPU (not of wall time: the machine may be busy).
                let cpu = || {
                    std::fs::read_to_string("/proc/thread-self/schedstat")
                        .ok()
                        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                        .unwrap_or(u64::MAX)
                };
                let mut x = 0u64;
                while cpu() < 30_000_000 {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                    }
                }
                x
            })
            .expect("spawn");
        // Sampled while the worker runs, kept after it stops.
        while !worker.is_finished() {
            r.sample();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        worker.join().expect("join");
        r.phase(Phase::Write);
        let s = r.finish(10, 100, None);
        let phases = s.open_seconds + s.read_seconds + s.write_seconds + s.finish_seconds;
        assert!((phases - s.wall_seconds).abs() < 0.005, "{s:?}");
        assert!(s.open_seconds >= 0.02, "{s:?}");
        let decode: f64 = s
            .threads
            .iter()
            .filter(|t| t.role == "decode")
            .map(|t| t.cpu_seconds)
            .sum();
        assert!(decode >= 0.02, "{s:?}");
        assert_eq!(s.threads[0].role, "main");
        let json = s.to_json();
        assert!(
            json.contains("\"rows\": 10") && json.contains("\"decode\": "),
            "{json}"
        );
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn a_shared_worker_is_divided_between_its_roles() {
        let busy: BTreeMap<&str, u64> = [("inflate", 3_000), ("decode", 1_000)].into();
        let parts = split_by_role("bam-1".into(), 2_000_000_000, Some(&busy));
        let get = |role: &str| {
            parts
                .iter()
                .find(|t| t.role == role && t.name == "bam-1")
                .map(|t| t.cpu_seconds)
        };
        assert_eq!((get("inflate"), get("decode")), (Some(1.5), Some(0.5)));
        assert_eq!(parts.len(), 2);
        // A worker of a pool of its own: its name says its role.
        let own = split_by_role("frames-3".into(), 1_000_000_000, None);
        assert_eq!(
            own,
            vec![ThreadCpu {
                name: "frames-3".into(),
                role: "frames".into(),
                cpu_seconds: 1.0
            }]
        );
        assert_eq!(
            split_by_role("main".into(), 1, Some(&BTreeMap::new()))[0].role,
            "main"
        );
    }

    #[test]
    fn task_clocks_record_the_role_of_each_task() {
        let r = Recorder::new();
        std::thread::Builder::new()
            .name("stats-test-0".into())
            .spawn(|| {
                let clock = TaskClock::start();
                std::thread::sleep(std::time::Duration::from_millis(5));
                clock.stop("inflate");
                TaskClock::start().stop("decode");
            })
            .expect("spawn")
            .join()
            .expect("join");
        let busy = BUSY.lock().expect("lock").get("stats-test-0").cloned();
        drop(r);
        let busy = busy.expect("recorded while a recorder runs");
        assert!(busy["inflate"] >= 5_000_000, "{busy:?}");
        assert!(busy.contains_key("decode"), "{busy:?}");
    }
}
