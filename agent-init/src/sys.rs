//! The one home for `unsafe` and for system calls whose use needs care, and
//! the table of signal names.
//!
//! Everything here is a thin, documented wrapper; policy (which signal goes
//! where, when to kill) lives in `init/`. Code running between fork and exec
//! (`pre_exec`) must only make async-signal-safe calls and never allocate.

use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::libc;
use nix::sys::signal::{self, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{self, Pid};

/// The signals that are a fault when the kernel raises them and an ordinary
/// signal when a process sends them (`kill -SEGV`, as dumb-init's tests
/// do): the latter are forwarded like any other. Blocked, they still end
/// agent-init when the kernel raises them: a fault is delivered even to a
/// blocked signal (and to PID 1) with the default action.
pub const FAULTS: [i32; 6] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// Every signal a name may stand for in the configuration: all standard
/// ones but [`FAULTS`], SIGKILL and SIGSTOP, and the real-time signals the
/// C library leaves to programs.
pub fn handled_signals() -> Vec<i32> {
    let standard =
        (1..32).filter(|s| !FAULTS.contains(s) && *s != libc::SIGKILL && *s != libc::SIGSTOP);
    let realtime = libc::SIGRTMIN()..=libc::SIGRTMAX();
    standard.chain(realtime).collect()
}

/// Every signal the init takes in: the handled ones and [`FAULTS`].
pub fn init_signals() -> Vec<i32> {
    let mut all = handled_signals();
    all.extend(FAULTS);
    all
}

/// A signal taken off a [`SignalFd`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub signo: i32,
    /// Who sent it: a process (kill, sigqueue, tkill); 0 when the kernel
    /// raised it or the sender is outside our PID namespace.
    pub sender: i32,
}

/// A signalfd: the signals of its set, blocked for every thread, are read
/// from it instead of running a handler (no handler frame, no self-pipe:
/// one read takes all that are pending, with their senders).
pub struct SignalFd(std::os::fd::OwnedFd);

/// How many signals one read takes at most.
pub const SIGNALS_PER_READ: usize = 16;

impl SignalFd {
    /// Blocks `signals` for the calling thread and every thread it starts
    /// from now on, and opens a non-blocking signalfd for them. Call it
    /// before any thread exists: a thread with a signal unblocked would
    /// get its default action instead. A blocked signal is never
    /// discarded, not even by PID 1: it waits on the descriptor.
    pub fn open(signals: &[i32]) -> io::Result<SignalFd> {
        use std::os::fd::FromRawFd;
        // SAFETY: the set is plain data initialised by sigemptyset before
        // use; pthread_sigmask and signalfd only read it; the descriptor
        // signalfd returns is new and owned by nobody else.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &signo in signals {
                libc::sigaddset(&mut set, signo);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = SignalFd(std::os::fd::OwnedFd::from_raw_fd(fd));
            default_dispositions(signals);
            Ok(fd)
        }
    }

    /// Takes what is pending (at most [`SIGNALS_PER_READ`]) into `into`;
    /// returns how many. `WouldBlock` when nothing is.
    pub fn read(&self, into: &mut std::collections::VecDeque<Received>) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        const SIZE: usize = std::mem::size_of::<libc::signalfd_siginfo>();
        let mut buf = std::mem::MaybeUninit::<[libc::signalfd_siginfo; SIGNALS_PER_READ]>::uninit();
        // SAFETY: read(2) writes at most the buffer's size into memory this
        // frame owns; nothing of it is read before the call says how much
        // it wrote.
        let n = unsafe {
            libc::read(
                self.0.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                std::mem::size_of_val(&buf),
            )
        };
        let Ok(bytes) = usize::try_from(n) else {
            return Err(io::Error::last_os_error());
        };
        let count = (bytes / SIZE).min(SIGNALS_PER_READ);
        let first = buf.as_ptr().cast::<libc::signalfd_siginfo>();
        for i in 0..count {
            // SAFETY: the kernel wrote `count` whole records from the start
            // of the buffer; signalfd_siginfo is plain integers, valid for
            // any bytes; `i < count <= SIGNALS_PER_READ` stays inside it.
            let info = unsafe { std::ptr::read(first.add(i)) };
            let code = info.ssi_code;
            let sender = if code <= 0 {
                i32::try_from(info.ssi_pid).unwrap_or(0)
            } else {
                0
            };
            into.push_back(Received {
                signo: i32::try_from(info.ssi_signo).unwrap_or(0),
                sender,
            });
        }
        Ok(count)
    }
}

impl std::os::fd::AsRawFd for SignalFd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

/// `signo`'s bit in a signal set as /proc/PID/status shows it (bit
/// `signo - 1`); 0 for a number outside 1–64.
fn signal_bit(signo: i32) -> u64 {
    u32::try_from(signo.saturating_sub(1))
        .ok()
        .filter(|_| signo >= 1)
        .and_then(|b| 1u64.checked_shl(b))
        .unwrap_or(0)
}

/// Sets every signal of `signals` that agent-init inherited as ignored back
/// to the default (they are blocked, so the default never runs here):
/// with SIGCHLD ignored the kernel reaps children itself and no exit would
/// ever be seen. Which were ignored is remembered: children get exactly
/// those back between fork and exec (`place_child`), as tini's sigconf
/// test checks (`nohup`, `trap '' INT`: the command still ignores them).
/// SIGPIPE cannot be told: Rust's runtime ignores it before `main`, and a
/// child gets its default.
fn default_dispositions(signals: &[i32]) {
    // Which are ignored, from one read of /proc (unreadable: all of them).
    let ignored = {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let n = std::fs::File::open("/proc/self/status")
            .and_then(|mut f| f.read(&mut buf))
            .unwrap_or(0);
        buf.get(..n)
            .unwrap_or_default()
            .split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(b"SigIgn:"))
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(u64::MAX)
    };
    for &signo in signals {
        let bit = signal_bit(signo);
        let was_ignored = ignored & bit != 0 && signo != libc::SIGPIPE;
        if was_ignored {
            ORIGINAL_IGNORED.fetch_or(bit, std::sync::atomic::Ordering::Relaxed);
        }
        let reset = signo == libc::SIGCHLD || was_ignored;
        if reset {
            // SAFETY: SIG_DFL installs no handler code.
            unsafe {
                libc::signal(signo, libc::SIG_DFL);
            }
        }
    }
}

/// Registers a signalfd with the runtime's reactor.
pub fn signals_async(fd: SignalFd) -> io::Result<tokio::io::unix::AsyncFd<SignalFd>> {
    // SAFETY: `SignalFd` owns its descriptor, which stays open and the
    // same until the AsyncFd (which owns the SignalFd) is dropped.
    unsafe {
        tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
            .map_err(io::Error::from)
    }
}

/// The global allocator (the binary's, see `main.rs`): dlmalloc behind a
/// spin lock. musl's own allocator is slow with the many small allocations
/// of start-up; dlmalloc's global lock is a pthread mutex taken and freed
/// around every call, in a process whose allocations come nearly all from
/// one thread. An uncontended atomic swap costs a fraction of that; a
/// contended lock spins briefly, then yields its time slice.
pub struct Allocator {
    locked: std::sync::atomic::AtomicBool,
    heap: std::cell::UnsafeCell<dlmalloc::Dlmalloc>,
}

// SAFETY: `heap` is only reached with `locked` held (see `with_heap`).
unsafe impl Sync for Allocator {}

impl Allocator {
    pub const fn new() -> Allocator {
        Allocator {
            locked: std::sync::atomic::AtomicBool::new(false),
            heap: std::cell::UnsafeCell::new(dlmalloc::Dlmalloc::new()),
        }
    }

    fn with_heap<T>(&self, f: impl FnOnce(&mut dlmalloc::Dlmalloc) -> T) -> T {
        use std::sync::atomic::Ordering;
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            if spins < 64 {
                spins = spins.saturating_add(1);
                std::hint::spin_loop();
            } else {
                // The holder may be descheduled: let it run.
                std::thread::yield_now();
            }
        }
        /// Releases the lock however `f` ends.
        struct Unlock<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, std::sync::atomic::Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.locked);
        // SAFETY: the lock is held, so this is the only reference to the
        // heap until `_unlock` releases it.
        f(unsafe { &mut *self.heap.get() })
    }
}

impl Default for Allocator {
    fn default() -> Allocator {
        Allocator::new()
    }
}

// SAFETY: every call goes to dlmalloc, which keeps GlobalAlloc's contract
// (layouts passed through unchanged), one caller at a time (`with_heap`);
// none of its calls allocate through the global allocator again.
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as GlobalAlloc::alloc's contract.
        self.with_heap(|h| unsafe { h.malloc(layout.size(), layout.align()) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as GlobalAlloc::dealloc's contract: `ptr` came from this
        // allocator with this layout.
        self.with_heap(|h| unsafe { h.free(ptr, layout.size(), layout.align()) })
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as GlobalAlloc::alloc_zeroed's contract.
        self.with_heap(|h| unsafe { h.calloc(layout.size(), layout.align()) })
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as GlobalAlloc::realloc's contract.
        self.with_heap(|h| unsafe { h.realloc(ptr, layout.size(), layout.align(), new_size) })
    }
}

/// agent-init's own environment, read in place: (name, value) byte
/// slices of each `NAME=VALUE` entry, with nothing copied (an entry without
/// `=` is left out). agent-init never changes its
/// environment (no setenv: the lint configuration forbids
/// `std::env::set_var`), so the entries stay as they are for good.
pub fn environ() -> impl Iterator<Item = (&'static [u8], &'static [u8])> {
    extern "C" {
        static mut environ: *const *const libc::c_char;
    }
    // SAFETY: `environ` is the C library's NULL-terminated array of
    // NUL-terminated strings, set up before main and never changed by
    // agent-init (see above), so each pointer and string stays valid and
    // unchanged for the life of the process.
    let mut at = unsafe { std::ptr::addr_of!(environ).read() };
    std::iter::from_fn(move || {
        if at.is_null() {
            return None;
        }
        // SAFETY: as above; `at` points into the array, whose end is the
        // NULL entry, which is never passed.
        unsafe {
            let entry = *at;
            if entry.is_null() {
                return None;
            }
            at = at.add(1);
            Some(std::ffi::CStr::from_ptr(entry).to_bytes())
        }
    })
    // An entry without `=` is no variable (getenv never finds it).
    .filter_map(|entry| {
        let eq = entry.iter().position(|&b| b == b'=')?;
        Some((entry.get(..eq)?, entry.get(eq.saturating_add(1)..)?))
    })
}

/// A signal's conventional name ("SIGTERM", "SIGRTMIN+3").
pub fn signal_name(signo: i32) -> String {
    match Signal::try_from(signo) {
        Ok(sig) => sig.as_str().to_string(),
        Err(_) => {
            let min = libc::SIGRTMIN();
            if signo >= min && signo <= libc::SIGRTMAX() {
                format!("SIGRTMIN+{}", signo - min)
            } else {
                format!("signal {signo}")
            }
        }
    }
}

/// The number of a signal named `SIGTERM`, `TERM`, `SIGRTMIN+2` or `15`.
pub fn signal_number(name: &str) -> Option<i32> {
    let n = name.trim();
    if let Ok(num) = n.parse::<i32>() {
        return handled_signals().contains(&num).then_some(num);
    }
    let upper = n.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    if let Some(offset) = full.strip_prefix("SIGRTMIN+") {
        let num = libc::SIGRTMIN() + i32::from(offset.parse::<u8>().ok()?);
        return (num <= libc::SIGRTMAX()).then_some(num);
    }
    full.parse::<Signal>()
        .ok()
        .map(|s| s as i32)
        .filter(|s| handled_signals().contains(s) || *s == libc::SIGKILL)
}

/// Makes this process a child subreaper, so orphaned descendants are
/// re-parented to it instead of to the real PID 1.
pub fn set_child_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)?;
    Ok(())
}

/// The pid of a child that has exited, left unreaped (waitid with
/// WNOWAIT); None when none has.
pub fn next_exited() -> io::Result<Option<i32>> {
    // SAFETY: waitid writes only into the siginfo this frame owns, zeroed
    // first so that si_pid reads 0 when no child has exited (WNOHANG).
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let pid = info.si_pid();
        Ok((pid > 0).then_some(pid))
    }
}

/// What a process (a zombie too) is called: its `comm`.
pub fn command_name(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(text.trim_end_matches('\n').to_string())
}

/// agent-init's parent.
pub fn parent_pid() -> i32 {
    unistd::getppid().as_raw()
}

/// Asks the kernel for `signo` when agent-init's parent dies.
pub fn set_parent_death_signal(signo: i32) -> io::Result<()> {
    let signo = libc::c_ulong::try_from(signo).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and reads no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signo, 0, 0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How a child is placed relative to agent-init's session and terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A new session (and so a new process group) without a terminal, so a
    /// group signal reaches every process the command spawns.
    NewSession,
    /// A new process group that becomes the terminal's foreground group, so
    /// Ctrl-C and job control reach the command, not agent-init.
    ForegroundGroup,
    /// Where the caller is (`agent-init exec` replacing itself).
    Inherit,
}

/// Arranges for a spawned child to start with the signal mask and the
/// ignored signals agent-init itself started with, in its own session
/// or foreground process group, then to drop to `identity` (uid, gid,
/// supplementary groups) and set
/// no_new_privs when asked. Spawn it through [`spawn`].
pub fn place_child(
    cmd: &mut Command,
    placement: Placement,
    identity: Option<(u32, u32, &[u32])>,
    no_new_privs: bool,
) {
    // Everything the closure needs is computed before fork: it must not
    // allocate.
    let ids = identity.map(|(uid, gid, groups)| {
        (
            nix::unistd::Uid::from_raw(uid),
            nix::unistd::Gid::from_raw(gid),
            groups
                .iter()
                .copied()
                .map(nix::unistd::Gid::from_raw)
                .collect::<Vec<_>>(),
        )
    });
    let ignored = ORIGINAL_IGNORED.load(std::sync::atomic::Ordering::Relaxed);
    let closure = move || -> io::Result<()> {
        // agent-init installs no handlers (its signals come from a
        // signalfd): the mask it blocked them with goes back, and the
        // signals its parent left ignored are ignored again.
        signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&original_mask()), None)?;
        match placement {
            Placement::Inherit => {}
            Placement::NewSession => {
                unistd::setsid()?;
            }
            Placement::ForegroundGroup => {
                unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
                // tcsetpgrp from what is still a background group raises
                // SIGTTOU; ignore it for the call, then restore the default.
                // Errors mean the terminal is not our controlling one;
                // carry on as tini does.
                // SAFETY: SIG_IGN/SIG_DFL are not handler functions, so no
                // code runs in signal context; signal() is async-signal-safe.
                // Descriptor 0 stays open for the whole call.
                unsafe {
                    let _ = signal::signal(Signal::SIGTTOU, SigHandler::SigIgn);
                    let stdin = BorrowedFd::borrow_raw(0);
                    let _ = unistd::tcsetpgrp(stdin, unistd::getpid());
                    let _ = signal::signal(Signal::SIGTTOU, SigHandler::SigDfl);
                }
            }
        }
        // After the placement, whose tcsetpgrp sets SIGTTOU to the default.
        restore_ignored(ignored);
        if let Some((uid, gid, groups)) = &ids {
            // Groups first, uid last: after setuid there is no way back.
            if unistd::geteuid().is_root() {
                unistd::setgroups(groups)?;
            }
            unistd::setgid(*gid)?;
            unistd::setuid(*uid)?;
        }
        if no_new_privs {
            nix::sys::prctl::set_no_new_privs()?;
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec; it only
    // calls signal, sigprocmask, setsid, setpgid, tcsetpgrp, getpid,
    // setgroups, setgid, setuid and prctl, all async-signal-safe, and
    // allocates nothing (everything it uses was built before the fork).
    unsafe {
        cmd.pre_exec(closure);
    }
}

/// The signals agent-init's parent left ignored (bit `signo - 1`), which
/// children get back ignored; 0 outside the init, which changes none.
static ORIGINAL_IGNORED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Between fork and exec: the dispositions the parent gave agent-init
/// back, ignored where they were (only `signal`, async-signal-safe).
fn restore_ignored(ignored: u64) {
    for signo in 1..=64i32 {
        if ignored & signal_bit(signo) != 0 {
            // SAFETY: SIG_IGN installs no handler code; signal() is
            // async-signal-safe.
            unsafe {
                libc::signal(signo, libc::SIG_IGN);
            }
        }
    }
}

/// The signal mask agent-init started with, which children get back.
fn original_mask() -> SigSet {
    *ORIGINAL_MASK.get_or_init(|| SigSet::thread_get_mask().unwrap_or_else(|_| SigSet::empty()))
}

static ORIGINAL_MASK: std::sync::OnceLock<SigSet> = std::sync::OnceLock::new();

/// Remembers the signal mask agent-init started with; call first thing.
pub fn remember_original_mask() {
    let _ = original_mask();
}

/// Spawns `cmd` (set up by [`place_child`]). No signal can reach the
/// child through agent-init between fork and exec: agent-init runs no
/// handlers, and in the init every signal is blocked (its signalfd) until
/// the child has its original mask back, right before exec.
pub fn spawn(cmd: &mut Command) -> io::Result<std::process::Child> {
    cmd.spawn()
}

/// Lets go of the pages of agent-init's own code and read-only data that
/// startup touched (configuration, runtime and signal set-up) and the loop
/// never needs again: they leave its resident set and stay in the page
/// cache, whence anything used later faults back in. Only read-only
/// mappings of the executable whose pages are all still the file's are
/// released: a mapping with private copies (relocated data made read-only
/// afterwards, as in a position-independent build) would lose them.
pub fn release_startup_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in pristine_mappings(&smaps, exe.to_str().unwrap_or("")) {
        // SAFETY: the range is a whole mapping of this process, read-only,
        // backed by the executable, and without private copies; on it,
        // MADV_DONTNEED only drops page table entries, which the next
        // access re-creates from the file.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// The read-only private mappings of `exe` in `smaps` that hold no
/// anonymous (copied-on-write) pages.
fn pristine_mappings(smaps: &str, exe: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    // The mapping being read, while it qualifies so far.
    let mut candidate: Option<(usize, usize)> = None;
    let mut anonymous_seen = false;
    let close = |c: &mut Option<(usize, usize)>, anon_seen: bool, found: &mut Vec<_>| {
        if let Some(range) = c.take() {
            if anon_seen {
                found.push(range);
            }
        }
    };
    for line in smaps.lines() {
        let mut f = line.split_whitespace();
        let Some(first) = f.next() else { continue };
        if let Some((a, b)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            close(&mut candidate, anonymous_seen, &mut found);
            anonymous_seen = false;
            let perms = f.next().unwrap_or("");
            let path = f.nth(3);
            if path != Some(exe) || perms.contains('w') || !perms.ends_with('p') {
                continue;
            }
            if let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                candidate = Some((start, end));
            }
        } else if first == "Anonymous:" && candidate.is_some() {
            if f.next() == Some("0") {
                anonymous_seen = true;
            } else {
                candidate = None;
            }
        }
    }
    close(&mut candidate, anonymous_seen, &mut found);
    found
}

/// An inotify instance owned for tokio's reactor (see [`notify_async`]).
pub struct Notify(nix::sys::inotify::Inotify);

impl Notify {
    pub fn get(&self) -> &nix::sys::inotify::Inotify {
        &self.0
    }
}

impl std::os::fd::AsRawFd for Notify {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

/// Registers an inotify instance with the runtime's reactor.
pub fn notify_async(
    inotify: nix::sys::inotify::Inotify,
) -> io::Result<tokio::io::unix::AsyncFd<Notify>> {
    // SAFETY: `Notify` owns the inotify instance and with it its
    // descriptor, which stays open and the same until the AsyncFd (which
    // owns the Notify) is dropped; `as_raw_fd` always returns it.
    unsafe { tokio::io::unix::AsyncFd::register(Notify(inotify)).map_err(io::Error::from) }
}

/// Whether standard error is a terminal.
pub fn stderr_is_tty() -> bool {
    unistd::isatty(2).unwrap_or(false)
}

/// Whether standard input is a terminal.
pub fn stdin_is_tty() -> bool {
    unistd::isatty(0).unwrap_or(false)
}

/// Sends a signal by number (real-time signals have no `Signal` variant) to
/// a process (`pid > 0`) or a process group (`pid < 0`). A target that is
/// already gone is not an error: returns whether it existed.
pub fn send(pid: i32, signo: i32) -> io::Result<bool> {
    // 0 and -1 mean "my own group" and "everyone": never by accident.
    if pid == 0 || pid == -1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal group 0 or every process",
        ));
    }
    kill(pid, signo)
}

/// Sends `signo` (0: only checks for targets) to every process this one may
/// signal except itself (`kill(-1, …)`). Only meaningful when agent-init is
/// PID 1 of a namespace, where that is the whole container. Returns whether
/// any process was there.
pub fn send_all(signo: i32) -> io::Result<bool> {
    kill(-1, signo)
}

fn kill(pid: i32, signo: i32) -> io::Result<bool> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signo) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// A process as /proc/PID/stat shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// R, S, D, T, Z, …
    pub state: char,
    /// The command name (`comm`).
    pub name: String,
}

/// Parses one /proc/PID/stat line.
pub fn parse_stat(pid: i32, stat: &str) -> Option<Proc> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let mut f = stat.get(close + 2..)?.split(' ');
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    let session = f.next()?.parse().ok()?;
    Some(Proc {
        pid,
        ppid,
        pgrp,
        session,
        state,
        name,
    })
}

/// Every process this namespace's /proc shows (those gone meanwhile left
/// out). An error when /proc cannot be read (no descriptor to spare, say):
/// then nobody can tell what is there.
pub fn try_processes() -> io::Result<Vec<Proc>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => found.extend(parse_stat(pid, &stat)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                return Err(e)
            }
            // Gone since the directory was read, or not ours to read.
            Err(_) => {}
        }
    }
    Ok(found)
}

/// Every process this namespace's /proc shows; none where it cannot be read.
pub fn processes() -> Vec<Proc> {
    try_processes().unwrap_or_default()
}

/// Descriptors held open for [`with_reserve`]: a full descriptor table
/// (a flood of probe clients) must not blind the shutdown's look at /proc.
static RESERVE: std::sync::Mutex<Vec<std::os::fd::OwnedFd>> = std::sync::Mutex::new(Vec::new());

/// How many descriptors a look at /proc needs at once: the directory and
/// one file in it, and one to spare.
const RESERVED: usize = 3;

/// Sets the reserve aside (once is enough; later calls top it up).
pub fn reserve_descriptors() {
    let mut held = RESERVE.lock().unwrap_or_else(|e| e.into_inner());
    while held.len() < RESERVED {
        // One open, then copies of it (one call each).
        let next = match held.first() {
            Some(first) => first.try_clone(),
            None => std::fs::File::open("/").map(Into::into),
        };
        match next {
            Ok(fd) => held.push(fd),
            Err(_) => break,
        }
    }
}

/// Runs `f` with the reserved descriptors given back to the system for
/// it, then sets them aside again (for a second try when the descriptor
/// table was full: see `init::tree`).
pub fn with_reserve<T>(f: impl FnOnce() -> T) -> T {
    RESERVE.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let out = f();
    reserve_descriptors();
    out
}

/// Whether a process is stopped (state `T`): `target > 0` that process,
/// `target < -1` any process of group -target, `-1` any process but this
/// one. Read from /proc; unreadable entries count as running.
pub fn any_stopped(target: i32) -> bool {
    let stopped = |p: &Proc| p.state == 'T';
    if target > 0 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{target}/stat")) else {
            return false;
        };
        return parse_stat(target, &stat).is_some_and(|p| stopped(&p));
    }
    let me = std::process::id() as i32;
    processes()
        .iter()
        .filter(|p| p.pid != me)
        .any(|p| stopped(p) && (target == -1 || p.pgrp == -target))
}

/// Whether process `pid` takes care of signal `signo` itself (catches,
/// ignores or blocks it, e.g. for sigwait), from the SigCgt/SigIgn/SigBlk
/// masks in /proc/PID/status. `None` if it cannot be read.
pub fn handles_signal(pid: i32, signo: i32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let bit = 1u64 << (signo - 1);
    let mut handled = false;
    for field in ["SigCgt:", "SigIgn:", "SigBlk:"] {
        let hex = status.lines().find_map(|l| l.strip_prefix(field))?.trim();
        handled |= u64::from_str_radix(hex, 16).ok()? & bit != 0;
    }
    Some(handled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_mappings_without_private_copies_are_released() {
        let smaps = "\
00400000-00500000 r--p 00000000 08:01 42 /bin/agent-init
Size: 1024 kB
Anonymous: 0 kB
00500000-00600000 r-xp 00100000 08:01 42 /bin/agent-init
Anonymous: 0 kB
00600000-00700000 r--p 00200000 08:01 42 /bin/agent-init
Anonymous: 12 kB
00700000-00710000 rw-p 00300000 08:01 42 /bin/agent-init
Anonymous: 0 kB
00800000-00900000 r--p 00000000 08:01 43 /lib/other.so
Anonymous: 0 kB
00a00000-00b00000 r-xp 00100000 08:01 42 /bin/agent-init
";
        assert_eq!(
            pristine_mappings(smaps, "/bin/agent-init"),
            [(0x400000, 0x500000), (0x500000, 0x600000)]
        );
    }

    #[test]
    fn stat_lines_with_odd_names() {
        let p = parse_stat(42, "42 (a) b (c)) S 1 42 40 0 -1 4194560").unwrap();
        assert_eq!(p.name, "a) b (c)");
        assert_eq!((p.state, p.ppid, p.pgrp, p.session), ('S', 1, 42, 40));
        assert!(parse_stat(1, "garbage").is_none());
    }

    #[test]
    fn signal_names_both_ways() {
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
        for name in [
            "SIGTERM",
            "TERM",
            "term",
            "15",
            "SIGRTMIN+2",
            "SIGHUP",
            "SIGKILL",
        ] {
            let n = signal_number(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(signal_number(&signal_name(n)), Some(n), "{name}");
        }
        for bad in [
            "SIGNOPE",
            "SIGSEGV",
            "0",
            "99",
            "SIGRTMIN+99",
            "SIGRTMIN+-1",
            "",
        ] {
            assert_eq!(signal_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_handled_set_leaves_out_faults_and_the_uncatchable() {
        let set = handled_signals();
        for s in [
            libc::SIGTERM,
            libc::SIGCHLD,
            libc::SIGWINCH,
            libc::SIGRTMAX(),
        ] {
            assert!(set.contains(&s), "{s}");
        }
        for s in FAULTS.into_iter().chain([libc::SIGKILL, libc::SIGSTOP]) {
            assert!(!set.contains(&s), "{s}");
        }
    }

    #[test]
    fn own_dispositions_are_read() {
        // The test harness leaves SIGTSTP at its default; Rust ignores SIGPIPE.
        let me = std::process::id() as i32;
        assert_eq!(handles_signal(me, libc::SIGTSTP), Some(false));
        assert_eq!(handles_signal(me, libc::SIGPIPE), Some(true));
        assert_eq!(handles_signal(-5, libc::SIGTSTP), None);
    }

    #[test]
    fn never_every_process() {
        assert!(send(-1, 0).is_err());
        assert!(send(0, 0).is_err());
    }
}
