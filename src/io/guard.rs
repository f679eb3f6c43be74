//! Mapped files that shrink while they are read: the SIGBUS becomes an error.
//!
//! A file mapped whole ([`Input::open`](super::Input::open)) that another process truncates
//! leaves pages past its new end with nothing behind them: reading one raises SIGBUS, whose
//! default action ends the process (and a Python interpreter, a Ray worker, a notebook kernel
//! with it). Every live map is registered here. A SIGBUS handler, installed with the first map
//! and chained to the handler it replaced, looks the faulting address up; inside a registered
//! map it replaces the map from the faulting page to its end with zero-filled pages
//! (`mmap(MAP_FIXED | MAP_ANONYMOUS)`), records the offset and returns, so the read goes on and
//! reads zeros. Every reader asks [`Input::check`](super::Input::check) before it hands out what
//! it read (each inflated BGZF chunk, each timsTOF job, each MIDI file), so nothing decoded from
//! those zeros ever leaves: the reader reports an error naming the file and the offset from
//! which its bytes are gone.
//!
//! A fault anywhere else goes to the previous handler (Rust's stack-overflow report, Python's
//! `faulthandler`, or the default action), as if this one were not there. If a later library
//! replaces this handler, the next map re-installs it in front. Linux only; elsewhere maps are
//! not guarded and a shrinking file still ends the process.

#[cfg(target_os = "linux")]
pub(super) use linux::Registration;

#[cfg(not(target_os = "linux"))]
pub(super) use other::Registration;

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// Maps that can be guarded at once; a map opened while all are taken is not guarded (see
    /// [`Input::open`](super::super::Input::open)).
    const SLOTS: usize = 4096;

    /// A slot being filled in (its `end` is not written yet).
    const CLAIMED: usize = usize::MAX;

    /// One registered map: read by the signal handler with atomics only.
    struct Slot {
        /// Its first address; 0 when the slot is free, [`CLAIMED`] while it is filled in.
        start: AtomicUsize,
        /// One past its last byte.
        end: AtomicUsize,
        /// The lowest offset at which a page was found gone; `usize::MAX` while none was.
        cut: AtomicUsize,
    }

    static TABLE: [Slot; SLOTS] = [const {
        Slot {
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            cut: AtomicUsize::new(usize::MAX),
        }
    }; SLOTS];

    /// The page size, read when the handler is first installed.
    static PAGE: AtomicUsize = AtomicUsize::new(4096);

    /// The action this handler replaced, to chain to (leaked: the handler may read it at any
    /// time; replaced only when another library took SIGBUS over and the handler went back in
    /// front of it).
    static PREVIOUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(std::ptr::null_mut());

    /// Set while a fault is passed to the previous handler: a previous handler that chains
    /// back here ends the process instead of recursing.
    static CHAINING: AtomicBool = AtomicBool::new(false);

    /// Serialises installing the handler.
    static INSTALL: Mutex<()> = Mutex::new(());

    /// A registered map: faults inside it are survived and recorded until it is dropped (which
    /// must happen before the map is unmapped).
    #[derive(Debug)]
    pub(crate) struct Registration(usize);

    impl Registration {
        /// Registers the map at `start` of `len` bytes; `None` when the handler cannot be
        /// installed or every slot is taken.
        pub(crate) fn new(start: *const u8, len: usize) -> Option<Self> {
            if !install() {
                return None;
            }
            let start = start as usize;
            for (i, slot) in TABLE.iter().enumerate() {
                if slot
                    .start
                    .compare_exchange(0, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    slot.end.store(start + len, Ordering::Relaxed);
                    slot.cut.store(usize::MAX, Ordering::Relaxed);
                    // Published last: the handler reads `end` and `cut` after it sees `start`.
                    slot.start.store(start, Ordering::Release);
                    return Some(Self(i));
                }
            }
            None
        }

        /// The offset from which the map's pages were found gone, if a read found any.
        pub(crate) fn cut(&self) -> Option<usize> {
            match TABLE[self.0].cut.load(Ordering::Acquire) {
                usize::MAX => None,
                at => Some(at),
            }
        }
    }

    impl Drop for Registration {
        fn drop(&mut self) {
            TABLE[self.0].start.store(0, Ordering::Release);
        }
    }

    /// A fresh `sigaction` (all fields zero: no handler, no flags, an empty mask).
    fn blank() -> libc::sigaction {
        // SAFETY: `sigaction` is a plain C struct of integers, a mask and function pointers
        // stored as integers; all-zero bytes are a valid value of it (SIG_DFL, no flags).
        unsafe { std::mem::zeroed() }
    }

    /// Puts [`on_sigbus`] in front of whatever handles SIGBUS now, unless it is there already.
    fn install() -> bool {
        let _serial = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        let mut current = blank();
        // SAFETY: a null new action only queries; the kernel writes the current one into a
        // valid, exclusively borrowed struct.
        if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut current) } != 0 {
            return false;
        }
        let ours = on_sigbus as extern "C" fn(_, _, _) as usize;
        if current.sa_sigaction == ours {
            return true;
        }
        // SAFETY: sysconf only reads a system constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if let Ok(page) = usize::try_from(page) {
            if page.is_power_of_two() {
                PAGE.store(page, Ordering::Relaxed);
            }
        }
        let mut action = blank();
        action.sa_sigaction = ours;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        let mut previous = blank();
        // SAFETY: both structs are valid and exclusively borrowed; `on_sigbus` has the
        // three-argument signature SA_SIGINFO handlers are called with.
        if unsafe { libc::sigaction(libc::SIGBUS, &action, &mut previous) } != 0 {
            return false;
        }
        // The previous action stays readable for as long as the process runs.
        PREVIOUS.store(Box::into_raw(Box::new(previous)), Ordering::Release);
        true
    }

    /// The SIGBUS handler (async-signal-safe: atomics, `mmap` and `sigaction` only).
    extern "C" fn on_sigbus(
        signal: libc::c_int,
        info: *mut libc::siginfo_t,
        ctx: *mut libc::c_void,
    ) {
        // SAFETY: the kernel hands an SA_SIGINFO handler a valid `siginfo_t`.
        let info_ref = unsafe { &*info };
        // A positive code is the kernel's own report of a fault (BUS_ADRERR, ...); a signal sent
        // by a process (`kill`, `raise`) is not ours to survive.
        let fault = info_ref.si_code > 0;
        // SAFETY: for a kernel-reported SIGBUS the address field is the faulting address.
        if !fault || !survive(unsafe { info_ref.si_addr() } as usize) {
            chain(signal, info, ctx);
        }
    }

    /// Replaces the pages of a registered map from the one holding `addr` on with zeros and
    /// records the cut; false when `addr` is in no registered map (or the pages cannot be
    /// replaced).
    fn survive(addr: usize) -> bool {
        let page = PAGE.load(Ordering::Relaxed);
        for slot in &TABLE {
            let start = slot.start.load(Ordering::Acquire);
            if start == 0 || start == CLAIMED || addr < start {
                continue;
            }
            let end = slot.end.load(Ordering::Relaxed);
            if addr >= end {
                continue;
            }
            // Maps start on a page boundary, so the faulting page starts inside this one.
            let from = (addr & !(page - 1)).max(start);
            // SAFETY: `from..end` lies inside a live read-only private map of this process:
            // the registration is dropped before the map is unmapped, and the faulting read
            // proves the pages there have no file data behind them any more. MAP_FIXED
            // replaces exactly those pages with zero-filled ones of the same protection; no
            // other allocation can be there. The zeros are never trusted: every reader checks
            // `Input::check` (which reads the cut recorded below) before it hands anything on.
            let mapped = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if mapped == libc::MAP_FAILED {
                return false;
            }
            slot.cut.fetch_min(from - start, Ordering::AcqRel);
            return true;
        }
        false
    }

    /// Hands a fault that is not ours to the handler this one replaced.
    fn chain(signal: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let previous = PREVIOUS.load(Ordering::Acquire);
        if previous.is_null() || CHAINING.swap(true, Ordering::AcqRel) {
            return default(signal);
        }
        // SAFETY: set once from a leaked box and never freed.
        let previous = unsafe { &*previous };
        let handler = previous.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            CHAINING.store(false, Ordering::Release);
            return default(signal);
        }
        if previous.sa_flags & libc::SA_SIGINFO != 0 {
            type Action = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);
            // SAFETY: an SA_SIGINFO action's handler field holds a function of this type.
            let action = unsafe { std::mem::transmute::<usize, Action>(handler) };
            action(signal, info, ctx);
        } else {
            type Handler = extern "C" fn(libc::c_int);
            // SAFETY: a plain action's handler field holds a function of this type.
            let action = unsafe { std::mem::transmute::<usize, Handler>(handler) };
            action(signal);
        }
        CHAINING.store(false, Ordering::Release);
    }

    /// Restores the default action: the faulting instruction runs again and the signal ends
    /// the process, as it would have without this handler.
    fn default(signal: libc::c_int) {
        let action = blank();
        // SAFETY: a valid struct holding SIG_DFL; the old action is not asked for.
        unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) };
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    /// No guard on this system: maps are not registered.
    #[derive(Debug)]
    pub(crate) struct Registration;

    impl Registration {
        pub(crate) fn new(_start: *const u8, _len: usize) -> Option<Self> {
            None
        }

        pub(crate) fn cut(&self) -> Option<usize> {
            None
        }
    }
}
