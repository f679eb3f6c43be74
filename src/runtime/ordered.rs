//! [`Ordered`]: jobs in, results out in submission order, on a [`Pool`] or inline.

use super::{Outcome, Pool, WorkerPanicked};

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
    /// (A stage whose calling thread has other work wraps a pool of one with [`Ordered::new`].)
    pub(crate) fn spawn_named<S, I, F>(
        role: &'static str,
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

    /// The crew its jobs run on (`None` inline).
    pub(crate) fn crew(&self) -> Option<&std::sync::Arc<super::Crew>> {
        match &self.engine {
            Engine::Pool(pool) => Some(pool.crew()),
            Engine::Inline(..) => None,
        }
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
mod tests {
    use super::*;
    use crate::runtime::{jobs_ahead, workers};

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
        let pool = Pool::spawn_named(
            "test",
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
        let pool = Pool::spawn_named(
            "test",
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
