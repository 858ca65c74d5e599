//! The network poller: Go's runtime/netpoll.go and netpoll_epoll.go, on
//! mio (epoll on Linux, kqueue on the BSDs and macOS).
//!
//! Go keeps one epoll instance per process. `findRunnable` calls
//! `netpoll(0)` when a P runs dry and there are `netpollWaiters`; when
//! nothing at all is runnable, one M blocks in `netpoll(delay)` with the
//! delay of the earliest timer; `netpollBreak` writes to an eventfd to
//! interrupt that block when work arrives. Every fd is registered once,
//! edge-triggered, for reading and writing (`netpollopen`), and an event
//! hands the goroutines parked on the fd's pollDesc to the scheduler
//! (`netpollready`).
//!
//! gort's [`Poller`] is the same thing per runtime, plugged into gort-core's
//! [`Driver`] seam:
//! - [`Driver::park`] is `netpoll(delay)`: `Some(ZERO)` polls without
//!   blocking (the `find_runnable` poll), anything else blocks;
//! - [`Driver::unpark`] is `netpollBreak`, a [`mio::Waker`], with Go's
//!   `netpollWakeSig` flag so that a burst of unparks writes the eventfd
//!   once;
//! - [`Driver::has_waiters`] is `netpollWaiters > 0`.
//!
//! Descriptors ([`PollDesc`]) live in a slab. The token registered with mio
//! is the slab index plus a generation, so an event still in flight for a
//! socket that was closed, and whose slot was reused, finds a different
//! generation and is dropped (Go compares `pd.fdseq` with the tag packed in
//! the event for the same reason).
//!
//! Invariants:
//! - The mio `Poll` is behind a mutex. A blocking park takes it; a
//!   zero-timeout park only tries, and returns at once if another thread
//!   is polling (that thread will deliver the events).
//! - An unpark is never lost: the flag `woken` is set before the eventfd
//!   is written, a blocking park that finds it set does not block, and
//!   only a blocking park clears it, after its poll. A zero-timeout poll
//!   may consume the eventfd's edge but leaves the flag alone, so the next
//!   blocking park still returns at once (Go's netpoll only resets
//!   `netpollWakeSig` when `delay != 0`, for the same reason).
//! - Lock order: the `Poll` mutex, then the slab, then a descriptor's
//!   waiter lock. Tasks are woken after the slab lock is released.
//!
//! Departure from Go: a Rust program's `main` future runs on the thread
//! that calls `block_on`, which is not an M. When such a thread parks on a
//! socket while no M blocks in the poller (at start-up no M exists yet),
//! nobody would ever poll. So a waiter registered from outside the
//! runtime's Ms calls `Handle::wake_netpoller`, which starts (or wakes) an
//! M that ends up blocking in the poller; see [`Inner::ensure_polled`].

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::task::Waker;
use std::time::{Duration, Instant};

use gort_core::driver::Driver;
use gort_core::runtime::Handle;
use mio::event::Source;
use slab::Slab;

use crate::poll_desc::PollDesc;
use crate::ready::Ready;

/// Events taken from the kernel per poll: tokio's and Go's figure (Go's
/// netpoll reads 128 at a time; 1024 keeps one syscall enough for a busy
/// server's burst without a large buffer: 12 bytes each on epoll).
const EVENTS_CAPACITY: usize = 1024;

/// The token of the mio `Waker` (never a slab token, see [`pack`]).
const WAKER_TOKEN: usize = usize::MAX;

/// Slab index bits of a token; the rest is the generation. 2^32 (2^24 on
/// 32-bit targets) live sockets is far beyond any fd limit.
const INDEX_BITS: u32 = if usize::BITS >= 64 { 32 } else { 24 };
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
/// Generations wrap below the all-ones value so that no token equals
/// [`WAKER_TOKEN`].
const GEN_LIMIT: usize = (usize::MAX >> INDEX_BITS) - 1;

fn pack(index: usize, generation: usize) -> usize {
    (generation << INDEX_BITS) | index
}

fn index_of(token: usize) -> usize {
    token & INDEX_MASK
}

/// The network poller of one runtime, installed as its [`Driver`].
///
/// The `gort` facade's `runtime::Builder` installs one in every runtime it
/// builds; sockets find it through `Handle::current()`. With gort-core's
/// builder, install it yourself:
///
/// ```
/// use std::sync::Arc;
///
/// let rt = gort_core::runtime::Builder::new()
///     .procs(1)
///     .driver(Arc::new(gort_net::Poller::new()?))
///     .build()?;
/// rt.block_on(async {
///     let l = gort_net::TcpListener::bind("127.0.0.1:0").await?;
///     assert!(l.local_addr()?.port() != 0);
///     Ok::<_, std::io::Error>(())
/// })?;
/// # Ok::<_, std::io::Error>(())
/// ```
///
/// Dropping it (with the runtime's last handle) closes every socket still
/// registered with it: their waiters wake, and their operations fail.
pub struct Poller {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    poll: Mutex<PollState>,
    registry: mio::Registry,
    waker: mio::Waker,
    /// Go's `netpollWakeSig`: an unpark is pending.
    woken: AtomicBool,
    /// A thread is blocked in `park` with a non-zero timeout.
    blocking: AtomicBool,
    descs: Mutex<Slab<Arc<PollDesc>>>,
    next_gen: AtomicUsize,
    /// Go's `netpollWaiters`: directions of descriptors with a waiter.
    pub(crate) nwaiters: AtomicUsize,
    /// The poller was dropped: no new registrations.
    closed: AtomicBool,
}

struct PollState {
    poll: mio::Poll,
    events: mio::Events,
    /// Wakers collected in one poll (kept to reuse the allocation).
    wake: Vec<Waker>,
}

impl Poller {
    /// A new poller: one epoll (or kqueue) instance and its waker.
    ///
    /// Fails when the process is out of file descriptors.
    pub fn new() -> io::Result<Poller> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), mio::Token(WAKER_TOKEN))?;
        Ok(Poller {
            inner: Arc::new(Inner {
                poll: Mutex::new(PollState {
                    poll,
                    events: mio::Events::with_capacity(EVENTS_CAPACITY),
                    wake: Vec::new(),
                }),
                registry,
                waker,
                woken: AtomicBool::new(false),
                blocking: AtomicBool::new(false),
                descs: Mutex::new(Slab::new()),
                next_gen: AtomicUsize::new(0),
                nwaiters: AtomicUsize::new(0),
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The poller of the runtime this thread is in.
    pub(crate) fn current() -> io::Result<Arc<Inner>> {
        let h = Handle::try_current().map_err(|_| {
            io::Error::other(
                "gort-net: no gort runtime on this thread: create sockets inside a task, \
                 Runtime::block_on or Handle::enter",
            )
        })?;
        match h.driver_as::<Poller>() {
            Some(p) => Ok(p.inner.clone()),
            None => Err(io::Error::other(
                "gort-net: the current runtime has no network poller: build it with \
                 gort::runtime::Builder, or install gort_net::Poller with \
                 gort_core::runtime::Builder::driver",
            )),
        }
    }

    /// Number of sockets registered (for tests and metrics).
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let poller = Arc::new(gort_net::Poller::new()?);
    /// let rt = gort_core::runtime::Builder::new().driver(poller.clone()).build()?;
    /// let socket = rt.block_on(async { gort_net::UdpSocket::bind("127.0.0.1:0").await })?;
    /// assert_eq!(poller.registered(), 1);
    /// drop(socket); // deregistered on drop
    /// assert_eq!(poller.registered(), 0);
    /// # Ok::<_, std::io::Error>(())
    /// ```
    pub fn registered(&self) -> usize {
        self.inner.lock_descs().len()
    }
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("registered", &self.registered())
            .field("waiters", &self.inner.nwaiters.load(Ordering::Relaxed))
            .finish()
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.inner.close_all();
    }
}

impl Driver for Poller {
    fn park(&self, timeout: Option<Duration>) {
        self.inner.park(timeout);
    }

    fn unpark(&self) {
        self.inner.unpark();
    }

    fn has_waiters(&self) -> bool {
        self.inner.nwaiters.load(Ordering::SeqCst) > 0
    }
}

impl Inner {
    fn lock_descs(&self) -> MutexGuard<'_, Slab<Arc<PollDesc>>> {
        self.descs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Go's `netpoll(delay)`.
    fn park(&self, timeout: Option<Duration>) {
        let nonblocking = timeout == Some(Duration::ZERO);
        let mut st = if nonblocking {
            match self.poll.try_lock() {
                Ok(g) => g,
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
                // Another thread polls; it delivers the events.
                Err(TryLockError::WouldBlock) => return,
            }
        } else {
            self.poll.lock().unwrap_or_else(|e| e.into_inner())
        };
        let st = &mut *st;
        let mut timeout = timeout;
        if !nonblocking {
            self.blocking.store(true, Ordering::SeqCst);
            if self.woken.load(Ordering::SeqCst) {
                timeout = Some(Duration::ZERO);
            }
        }
        let res = st.poll.poll(&mut st.events, timeout);
        if !nonblocking {
            self.blocking.store(false, Ordering::SeqCst);
            self.woken.store(false, Ordering::SeqCst);
        }
        match res {
            Ok(()) => {}
            // EINTR: the scheduler calls again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => st.events.clear(),
            // The epoll fd itself is broken: Go throws; gort reports and
            // lets the scheduler carry on (timers and tasks still run).
            Err(e) => {
                eprintln!("gort-net: polling for I/O failed: {e}");
                st.events.clear();
            }
        }
        {
            let descs = self.lock_descs();
            for ev in st.events.iter() {
                let token = ev.token().0;
                if token == WAKER_TOKEN {
                    continue;
                }
                match descs.get(index_of(token)) {
                    // A stale token (closed socket, slot reused) is dropped.
                    Some(d) if d.token == token => {
                        d.set_readiness(Ready::from_mio(ev), &self.nwaiters, &mut st.wake)
                    }
                    _ => {}
                }
            }
        }
        st.wake.drain(..).for_each(Waker::wake);
    }

    /// Go's `netpollBreak`.
    fn unpark(&self) {
        if !self.woken.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                eprintln!("gort-net: waking the poller failed: {e}");
            }
        }
    }

    /// Go's `netpollopen`: registers `source` edge-triggered for reading
    /// and writing, with a fresh descriptor whose readiness starts as
    /// `initial`.
    pub(crate) fn register(
        &self,
        source: &mut impl Source,
        initial: Ready,
    ) -> io::Result<Arc<PollDesc>> {
        let desc = {
            let mut descs = self.lock_descs();
            if self.closed.load(Ordering::SeqCst) {
                return Err(crate::poll_desc::closed_error());
            }
            let entry = descs.vacant_entry();
            let index = entry.key();
            if index > INDEX_MASK {
                return Err(io::Error::other("gort-net: too many sockets registered"));
            }
            let generation = self.next_gen.fetch_add(1, Ordering::Relaxed) % GEN_LIMIT;
            let desc = Arc::new(PollDesc::new(pack(index, generation), initial));
            entry.insert(desc.clone());
            desc
        };
        let interest = mio::Interest::READABLE | mio::Interest::WRITABLE;
        if let Err(e) = self
            .registry
            .register(source, mio::Token(desc.token), interest)
        {
            self.lock_descs().remove(index_of(desc.token));
            return Err(e);
        }
        Ok(desc)
    }

    /// Go's `netpollclose` + `pollDesc.evict`: removes `source` from the
    /// poller and closes its descriptor, waking its waiters.
    pub(crate) fn deregister(&self, source: &mut impl Source, desc: &PollDesc) {
        // Fails only if the poller is gone or the fd was never registered;
        // either way there is nothing left to undo.
        let _ = self.registry.deregister(source);
        {
            let mut descs = self.lock_descs();
            let index = index_of(desc.token);
            if descs.get(index).is_some_and(|d| d.token == desc.token) {
                descs.remove(index);
            }
        }
        desc.close(&self.nwaiters);
    }

    /// Called with the poller dropped: closes every descriptor.
    fn close_all(&self) {
        let descs: Vec<_> = {
            let mut descs = self.lock_descs();
            self.closed.store(true, Ordering::SeqCst);
            descs.drain().collect()
        };
        for d in descs {
            d.close(&self.nwaiters);
        }
    }

    /// A waiter was just registered. If it was registered from a thread
    /// that is not one of the runtime's Ms holding a P, and nobody blocks
    /// in the poller, make sure an M comes to poll (see the module docs).
    pub(crate) fn ensure_polled(self: &Arc<Self>) {
        if self.blocking.load(Ordering::SeqCst) {
            return;
        }
        let Ok(h) = Handle::try_current() else {
            return;
        };
        if h.current_proc().is_some() {
            // This M polls before it sleeps (find_runnable, then idle_wait).
            return;
        }
        if h.driver_as::<Poller>()
            .is_some_and(|p| Arc::ptr_eq(&p.inner, self))
        {
            h.wake_netpoller(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_collide_with_the_waker_token() {
        let max = pack(INDEX_MASK, GEN_LIMIT - 1);
        assert_ne!(max, WAKER_TOKEN);
        assert_eq!(index_of(max), INDEX_MASK);
        assert_eq!(index_of(pack(7, 3)), 7);
        assert_ne!(pack(7, 3), pack(7, 4), "a reused slot gets a new token");
    }

    #[test]
    fn unpark_before_a_blocking_park_makes_it_return_at_once() {
        let p = Poller::new().unwrap();
        p.unpark();
        // A zero-timeout poll in between consumes the eventfd edge but not
        // the pending wake-up.
        p.park(Some(Duration::ZERO));
        p.park(None); // would hang without the stored wake-up
    }

    #[test]
    fn park_returns_when_unparked_from_another_thread() {
        let p = Arc::new(Poller::new().unwrap());
        let p2 = p.clone();
        let t = std::thread::spawn(move || p2.park(None));
        while !t.is_finished() {
            p.unpark();
            std::thread::yield_now();
        }
        t.join().unwrap();
    }
}
