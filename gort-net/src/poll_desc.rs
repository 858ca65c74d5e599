//! The per-socket descriptor: readiness, waiters and deadlines (Go's
//! `pollDesc` in runtime/netpoll.go).
//!
//! Go keeps, per file descriptor, two semaphores `rg`/`wg` (`pdReady`,
//! `pdWait`, or the parked goroutine), the deadlines `rd`/`wd` with their
//! timers, and a sequence number that makes a stale timer or a reused
//! descriptor harmless. A goroutine that gets `EAGAIN` parks on `rg`
//! (`netpollblock`); `netpoll` hands it to the scheduler when epoll reports
//! the fd ready (`netpollready` → `netpollunblock`); a deadline timer does
//! the same with an error (`netpolldeadlineimpl`); `close` wakes both with
//! `errClosing` (`netpollcheckerr`).
//!
//! gort's [`PollDesc`] keeps the same facts in one atomic word plus a small
//! mutex:
//!
//! ```text
//! readiness word (usize):
//!   bits 0-3   Ready: READABLE, WRITABLE, READ_CLOSED, WRITE_CLOSED
//!   bit  4     CLOSED       the socket was deregistered (dropped, or the
//!                           runtime's poller is gone); every op fails
//!   bits 5-6   RD_SET/WD_SET       a read/write deadline is set
//!   bits 7-8   RD_EXPIRED/WD_EXPIRED  it has passed (Go's rd < 0)
//!   bits 16-31 tick         incremented by every readiness event
//! ```
//!
//! Invariants:
//! - The poller sets readiness bits, then takes the waiter lock and wakes
//!   the waiters; a task takes the waiter lock, re-reads the word, and only
//!   then registers its waker. So an event either is seen by the task or
//!   finds its waker: no wake-up is lost (Go gets the same from its CAS on
//!   `rg`).
//! - A task clears readiness only after the syscall said `WouldBlock`, and
//!   only if the tick is still the one it observed before the syscall: an
//!   edge that arrives between the syscall and the clear is kept (with
//!   edge-triggered epoll it would never be reported again).
//! - `*_CLOSED` bits are never cleared: a closed side stays ready.
//! - `CLOSED` is set once and never cleared; waiters are woken when it is.
//!
//! The loom models at the end of this file check the first, second and
//! last of these against the real code (`scripts/loom-net-time.sh`).
//!
//! Departures from Go:
//! - Go has exactly one waiter per direction because `internal/poll`'s
//!   `fdMutex` serialises readers (and writers) before they reach the
//!   pollDesc. gort's sockets take tokio's `&self` API (`readable()`,
//!   `UdpSocket::recv_from(&self)`, owned halves), so several tasks may wait
//!   on one direction: `rg`/`wg` are short lists (usually of one waker),
//!   and an event wakes every waiter of its direction, each of which
//!   re-checks. A waiter whose future is dropped stays on the list until
//!   the next event of its direction (or until its task waits again, which
//!   replaces it): at most one spurious wake-up.
//! - Go checks deadlines only through its timers; gort also compares the
//!   clock with the deadline at each operation when one is set, so an
//!   operation that starts after the deadline fails even if its timer has
//!   not fired yet.
//! - Go's `rseq`/`wseq` tell a stale deadline timer from a live one; gort
//!   compares the deadline with the clock when a timer fires instead (a
//!   changed deadline re-arms or stops the timer, see `deadline.rs`).

use gort_core::wait::{set_wait_reason, WaitReason};
use gort_time::Instant;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use crate::loom::sync::atomic::AtomicUsize as ReadinessWord;
use crate::loom::sync::{Mutex, MutexGuard};
use crate::ready::{Interest, Ready};

/// The socket was deregistered: dropped, or its runtime is gone.
const CLOSED: usize = 1 << 4;
/// A read deadline is set.
const RD_SET: usize = 1 << 5;
/// A write deadline is set.
const WD_SET: usize = 1 << 6;
/// The read deadline has passed: reads fail with `TimedOut` until reset.
const RD_EXPIRED: usize = 1 << 7;
/// The write deadline has passed.
const WD_EXPIRED: usize = 1 << 8;

const TICK_SHIFT: u32 = 16;
/// 16 bits of tick: a clear races an event only within one syscall, so
/// 65 536 events on one socket in that window would be needed to alias.
const TICK_MASK: usize = 0xffff << TICK_SHIFT;

/// A read or a write: the two halves of a pollDesc (Go's mode 'r'/'w').
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    fn interest(self) -> Interest {
        match self {
            Direction::Read => Interest::READABLE,
            Direction::Write => Interest::WRITABLE,
        }
    }

    fn deadline_bits(self) -> (usize, usize) {
        match self {
            Direction::Read => (RD_SET, RD_EXPIRED),
            Direction::Write => (WD_SET, WD_EXPIRED),
        }
    }
}

/// A readiness observation: the bits seen and the tick they were seen at,
/// handed back to [`PollDesc::clear_readiness`] after a `WouldBlock`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadyEvent {
    pub(crate) ready: Ready,
    tick: usize,
}

/// The waiters of one socket (Go's `rg`, `wg`), behind the descriptor lock.
#[derive(Default)]
struct Waiters {
    rg: Vec<Waker>,
    wg: Vec<Waker>,
    /// The deadlines (Go's `rd`, `wd`) on the runtime's clock (gort-time's
    /// `Instant`, which a test can pause); meaningful while the matching
    /// `*_SET` bit is set.
    rd: Option<Instant>,
    wd: Option<Instant>,
}

/// Go's `pollDesc`: one per registered socket.
pub(crate) struct PollDesc {
    /// The poller token: slab index and generation (see `netpoll.rs`).
    pub(crate) token: usize,
    readiness: ReadinessWord,
    waiters: Mutex<Waiters>,
}

fn tick_of(word: usize) -> usize {
    (word & TICK_MASK) >> TICK_SHIFT
}

/// The error an operation on a deregistered socket gets (Go's
/// `ErrNetClosing`, "use of closed network connection").
pub(crate) fn closed_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "use of closed network connection: the socket was deregistered from the poller (dropped, or its runtime shut down)",
    )
}

/// The error an operation past its deadline gets (Go's
/// `os.ErrDeadlineExceeded`, "i/o timeout").
pub(crate) fn timeout_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "i/o timeout: deadline exceeded")
}

impl PollDesc {
    /// A descriptor with `initial` readiness. Sockets that may already be
    /// readable or writable start with both bits set (Go's first-read
    /// fast path: try the syscall, wait only on `EAGAIN`).
    pub(crate) fn new(token: usize, initial: Ready) -> PollDesc {
        PollDesc {
            token,
            readiness: ReadinessWord::new(initial.as_usize()),
            waiters: Mutex::new(Waiters::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Go's `netpollcheckerr`, plus the clock check for a set deadline:
    /// the error an operation in `dir` must return now, if any.
    /// `deadline` reads the direction's deadline (under the waiter lock).
    fn check_err(
        &self,
        word: usize,
        dir: Direction,
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> Option<io::Error> {
        if word & CLOSED != 0 {
            return Some(closed_error());
        }
        let (set, expired) = dir.deadline_bits();
        if word & set == 0 {
            return None;
        }
        if word & expired != 0 {
            return Some(timeout_error());
        }
        // A deadline is set and its timer has not fired: read the clock.
        if deadline().is_some_and(|d| Instant::now() >= d) {
            return Some(timeout_error());
        }
        None
    }

    /// The current readiness for `interest`, or an error, without waiting.
    pub(crate) fn ready_now(&self, dir: Direction) -> io::Result<Option<ReadyEvent>> {
        self.ready_with(dir, || self.lock().deadline(dir))
    }

    fn ready_with(
        &self,
        dir: Direction,
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> io::Result<Option<ReadyEvent>> {
        let word = self.readiness.load(Ordering::Acquire);
        if let Some(e) = self.check_err(word, dir, deadline) {
            return Err(e);
        }
        let ready = Ready::from_usize(word).intersection(dir.interest());
        Ok((!ready.is_empty()).then_some(ReadyEvent {
            ready,
            tick: tick_of(word),
        }))
    }

    /// Go's `netpollblock`: ready now, or registers the task's waker for
    /// the next event of `dir` and returns `Pending`. `nwaiters` is the
    /// poller's count of descriptors with waiters (Go's `netpollWaiters`).
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        dir: Direction,
        nwaiters: &AtomicUsize,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Some(ev) = self.ready_now(dir)? {
            return Poll::Ready(Ok(ev));
        }
        let mut w = self.lock();
        // Re-check under the lock: the poller sets the bits before it
        // takes the lock to wake waiters.
        if let Some(ev) = self.ready_with(dir, || w.deadline(dir))? {
            return Poll::Ready(Ok(ev));
        }
        let list = match dir {
            Direction::Read => &mut w.rg,
            Direction::Write => &mut w.wg,
        };
        if !list.iter().any(|x| x.will_wake(cx.waker())) {
            if list.is_empty() {
                nwaiters.fetch_add(1, Ordering::SeqCst);
            }
            list.push(cx.waker().clone());
        }
        drop(w);
        set_wait_reason(WaitReason::IoWait);
        Poll::Pending
    }

    /// Go's `netpollready`: the poller saw `ready` for this socket. Sets the
    /// bits, bumps the tick, and moves the wakers to wake into `wake`.
    pub(crate) fn set_readiness(
        &self,
        ready: Ready,
        nwaiters: &AtomicUsize,
        wake: &mut Vec<Waker>,
    ) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                let tick = (tick_of(w) + 1) << TICK_SHIFT & TICK_MASK;
                Some((w & !TICK_MASK) | tick | ready.as_usize())
            });
        let mut w = self.lock();
        if !ready.intersection(Interest::READABLE).is_empty() {
            take_waiters(&mut w.rg, nwaiters, wake);
        }
        if !ready.intersection(Interest::WRITABLE).is_empty() {
            take_waiters(&mut w.wg, nwaiters, wake);
        }
    }

    /// Forgets the readiness `ev` reported, after the syscall returned
    /// `WouldBlock` — unless an event arrived since `ev` was observed.
    pub(crate) fn clear_readiness(&self, ev: ReadyEvent) {
        let clear = (ev.ready - Ready::READ_CLOSED - Ready::WRITE_CLOSED).as_usize();
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                (tick_of(w) == ev.tick).then_some(w & !clear)
            });
    }

    /// Go's `poll_runtime_pollClose` / `evict`: the socket is gone. Every
    /// waiter is woken and every later operation fails.
    pub(crate) fn close(&self, nwaiters: &AtomicUsize) {
        self.readiness.fetch_or(CLOSED, Ordering::AcqRel);
        let mut wake = Vec::new();
        let mut w = self.lock();
        take_waiters(&mut w.rg, nwaiters, &mut wake);
        take_waiters(&mut w.wg, nwaiters, &mut wake);
        drop(w);
        wake.into_iter().for_each(Waker::wake);
    }

    /// Go's `poll_runtime_pollSetDeadline` for one direction: `None` clears
    /// the deadline (and makes the socket usable again after a timeout); a
    /// deadline not in the future expires at once, waking the waiters.
    /// Returns whether the caller must arm the direction's timer for the
    /// deadline (false: stop it). Fails on a closed descriptor, as Go's
    /// `SetDeadline` does on a closed fd.
    pub(crate) fn set_deadline(
        &self,
        dir: Direction,
        deadline: Option<Instant>,
        nwaiters: &AtomicUsize,
    ) -> io::Result<bool> {
        let (set, expired) = dir.deadline_bits();
        let mut w = self.lock();
        if self.readiness.load(Ordering::Acquire) & CLOSED != 0 {
            return Err(closed_error());
        }
        let Some(t) = deadline else {
            self.readiness.fetch_and(!(set | expired), Ordering::AcqRel);
            return Ok(false);
        };
        *w.deadline_mut(dir) = Some(t);
        if t <= Instant::now() {
            self.readiness.fetch_or(set | expired, Ordering::AcqRel);
            let mut wake = Vec::new();
            self.take_dir(&mut w, dir, nwaiters, &mut wake);
            drop(w);
            wake.into_iter().for_each(Waker::wake);
            return Ok(false);
        }
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |x| {
                Some((x | set) & !expired)
            });
        Ok(true)
    }

    /// Go's `netpolldeadlineimpl`: the direction's timer fired. If its
    /// deadline has passed, marks it expired and wakes the direction's
    /// waiters. A deadline that was cleared or moved later since the timer
    /// was armed is left alone (moving it re-armed the timer).
    pub(crate) fn fire_deadline(&self, dir: Direction, nwaiters: &AtomicUsize) {
        let (set, expired) = dir.deadline_bits();
        let mut w = self.lock();
        let word = self.readiness.load(Ordering::Acquire);
        if word & set == 0 || word & expired != 0 || word & CLOSED != 0 {
            return;
        }
        if w.deadline(dir).is_some_and(|d| Instant::now() < d) {
            return;
        }
        self.readiness.fetch_or(expired, Ordering::AcqRel);
        let mut wake = Vec::new();
        self.take_dir(&mut w, dir, nwaiters, &mut wake);
        drop(w);
        wake.into_iter().for_each(Waker::wake);
    }

    fn take_dir(
        &self,
        w: &mut Waiters,
        dir: Direction,
        nwaiters: &AtomicUsize,
        wake: &mut Vec<Waker>,
    ) {
        match dir {
            Direction::Read => take_waiters(&mut w.rg, nwaiters, wake),
            Direction::Write => take_waiters(&mut w.wg, nwaiters, wake),
        }
    }
}

impl Waiters {
    fn deadline(&self, dir: Direction) -> Option<Instant> {
        match dir {
            Direction::Read => self.rd,
            Direction::Write => self.wd,
        }
    }

    fn deadline_mut(&mut self, dir: Direction) -> &mut Option<Instant> {
        match dir {
            Direction::Read => &mut self.rd,
            Direction::Write => &mut self.wd,
        }
    }
}

fn take_waiters(list: &mut Vec<Waker>, nwaiters: &AtomicUsize, wake: &mut Vec<Waker>) {
    if !list.is_empty() {
        nwaiters.fetch_sub(1, Ordering::SeqCst);
        wake.append(list);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    #[derive(Default)]
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    fn flag_waker() -> (Arc<Flag>, Waker) {
        let f = Arc::new(Flag::default());
        (f.clone(), Waker::from(f))
    }

    #[test]
    fn an_event_wakes_the_waiter_of_its_direction_only() {
        let d = PollDesc::new(0, Ready::EMPTY);
        let n = AtomicUsize::new(0);
        let (rf, rw) = flag_waker();
        let (wf, ww) = flag_waker();
        assert!(d
            .poll_ready(&mut Context::from_waker(&rw), Direction::Read, &n)
            .is_pending());
        assert!(d
            .poll_ready(&mut Context::from_waker(&ww), Direction::Write, &n)
            .is_pending());
        assert_eq!(n.load(Ordering::SeqCst), 2);
        let mut wake = Vec::new();
        d.set_readiness(Ready::READABLE, &n, &mut wake);
        wake.into_iter().for_each(Waker::wake);
        assert!(rf.0.load(Ordering::SeqCst));
        assert!(!wf.0.load(Ordering::SeqCst));
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_clear_that_races_an_event_keeps_the_event() {
        let d = PollDesc::new(0, Ready::EMPTY);
        let n = AtomicUsize::new(0);
        let mut wake = Vec::new();
        d.set_readiness(Ready::READABLE, &n, &mut wake);
        let ev = d.ready_now(Direction::Read).unwrap().unwrap();
        // The syscall said WouldBlock, but a new edge arrived meanwhile.
        d.set_readiness(Ready::READABLE, &n, &mut wake);
        d.clear_readiness(ev);
        assert!(d.ready_now(Direction::Read).unwrap().is_some());
        // Without a racing event the clear takes effect.
        let ev = d.ready_now(Direction::Read).unwrap().unwrap();
        d.clear_readiness(ev);
        assert!(d.ready_now(Direction::Read).unwrap().is_none());
    }

    #[test]
    fn closed_bits_survive_a_clear() {
        let d = PollDesc::new(0, Ready::EMPTY);
        let n = AtomicUsize::new(0);
        d.set_readiness(Ready::READABLE | Ready::READ_CLOSED, &n, &mut Vec::new());
        let ev = d.ready_now(Direction::Read).unwrap().unwrap();
        d.clear_readiness(ev);
        let ev = d.ready_now(Direction::Read).unwrap().unwrap();
        assert!(ev.ready.is_read_closed());
    }

    #[test]
    fn close_wakes_every_waiter_with_an_error() {
        let d = PollDesc::new(0, Ready::EMPTY);
        let n = AtomicUsize::new(0);
        let (rf, rw) = flag_waker();
        let (wf, ww) = flag_waker();
        let _ = d.poll_ready(&mut Context::from_waker(&rw), Direction::Read, &n);
        let _ = d.poll_ready(&mut Context::from_waker(&ww), Direction::Write, &n);
        d.close(&n);
        assert!(rf.0.load(Ordering::SeqCst) && wf.0.load(Ordering::SeqCst));
        assert_eq!(n.load(Ordering::SeqCst), 0);
        match d.poll_ready(&mut Context::from_waker(&rw), Direction::Read, &n) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::NotConnected),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_expired_deadline_fails_the_direction_until_reset() {
        let d = PollDesc::new(0, Ready::READABLE | Ready::WRITABLE);
        let n = AtomicUsize::new(0);
        let now = Instant::now();
        assert!(d
            .set_deadline(Direction::Read, Some(now + Duration::from_millis(20)), &n)
            .unwrap());
        assert!(d.ready_now(Direction::Read).unwrap().is_some());
        // A timer that fires early (or for an old deadline) changes nothing.
        d.fire_deadline(Direction::Read, &n);
        assert!(d.ready_now(Direction::Read).unwrap().is_some());
        while Instant::now() < now + Duration::from_millis(20) {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Past the deadline the operation fails even before the timer.
        assert_eq!(
            d.ready_now(Direction::Read).unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
        d.fire_deadline(Direction::Read, &n);
        assert!(d.ready_now(Direction::Read).is_err());
        assert!(
            d.ready_now(Direction::Write).unwrap().is_some(),
            "writes unaffected"
        );
        // Clearing the deadline makes reads work again.
        assert!(!d.set_deadline(Direction::Read, None, &n).unwrap());
        assert!(d.ready_now(Direction::Read).unwrap().is_some());
        // A deadline in the past expires at once, without a timer.
        assert!(!d.set_deadline(Direction::Read, Some(now), &n).unwrap());
        assert!(d.ready_now(Direction::Read).is_err());
        // A closed descriptor takes no deadline.
        d.close(&n);
        assert!(d.set_deadline(Direction::Read, None, &n).is_err());
    }

    #[test]
    fn a_fired_deadline_wakes_the_waiters_of_its_direction() {
        let d = PollDesc::new(0, Ready::EMPTY);
        let n = AtomicUsize::new(0);
        let (rf, rw) = flag_waker();
        assert!(d
            .set_deadline(
                Direction::Read,
                Some(Instant::now() + Duration::from_millis(5)),
                &n
            )
            .unwrap());
        assert!(d
            .poll_ready(&mut Context::from_waker(&rw), Direction::Read, &n)
            .is_pending());
        std::thread::sleep(Duration::from_millis(6));
        d.fire_deadline(Direction::Read, &n);
        assert!(rf.0.load(Ordering::SeqCst));
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }
}

/// Model-checked races of the descriptor (`scripts/loom-net-time.sh`): the
/// poller's event against a task registering as a waiter (with and without
/// the task's clear of stale readiness), and against close. Each waker
/// counts its wakes; a task that parked must be woken exactly once, and a
/// closed descriptor must stay closed with no waiter left on it.
#[cfg(all(test, loom))]
mod loom_tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::task::{Context, Poll, Wake, Waker};

    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;

    use super::{Direction, PollDesc, CLOSED};
    use crate::ready::Ready;

    #[derive(Default)]
    struct CountWake(AtomicUsize);

    impl Wake for CountWake {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    /// A descriptor as the poller and its sockets share it, with the
    /// poller's count of descriptors that have waiters.
    struct Shared {
        desc: PollDesc,
        nwaiters: AtomicUsize,
    }

    fn shared(initial: Ready) -> Arc<Shared> {
        Arc::new(Shared {
            desc: PollDesc::new(0, initial),
            nwaiters: AtomicUsize::new(0),
        })
    }

    /// What `Poller::park` does with an event for this descriptor.
    fn event(s: &Shared, ready: Ready) {
        let mut wake = Vec::new();
        s.desc.set_readiness(ready, &s.nwaiters, &mut wake);
        wake.into_iter().for_each(Waker::wake);
    }

    /// A task's read: poll for readiness once with a counting waker.
    /// Returns `None` if it parked, with its wake counter.
    fn wait_readable(s: &Shared) -> (Option<std::io::Result<Ready>>, std::sync::Arc<CountWake>) {
        let woken = std::sync::Arc::new(CountWake::default());
        let waker = Waker::from(woken.clone());
        let got = match s.desc.poll_ready(
            &mut Context::from_waker(&waker),
            Direction::Read,
            &s.nwaiters,
        ) {
            Poll::Ready(r) => Some(r.map(|ev| ev.ready)),
            Poll::Pending => None,
        };
        (got, woken)
    }

    fn no_waiters_left(s: &Shared) -> bool {
        let w = s.desc.lock();
        w.rg.is_empty() && w.wg.is_empty() && s.nwaiters.load(SeqCst) == 0
    }

    #[test]
    fn readiness_racing_a_waiter_registration_never_loses_the_wake() {
        loom::model(|| {
            let s = shared(Ready::EMPTY);
            let s2 = s.clone();
            let task = thread::spawn(move || wait_readable(&s2));
            event(&s, Ready::READABLE);
            let (got, woken) = task.join().unwrap();
            match got {
                // Saw the event: registered nothing, so nothing to wake.
                Some(r) => {
                    assert!(r.unwrap().is_readable());
                    assert_eq!(woken.0.load(SeqCst), 0);
                }
                // Parked before the event: the event found its waker.
                None => assert_eq!(woken.0.load(SeqCst), 1),
            }
            assert!(no_waiters_left(&s));
        });
    }

    #[test]
    fn data_arriving_after_the_readiness_check_is_read_or_wakes_the_waiter() {
        loom::model(|| {
            let s = shared(Ready::READABLE);
            // Bytes in the socket's receive buffer: the kernel sets it,
            // then epoll reports the edge.
            let data = Arc::new(AtomicBool::new(false));
            let (s2, d2) = (s.clone(), data.clone());
            let task = thread::spawn(move || {
                let ev = s2.desc.ready_now(Direction::Read).unwrap().unwrap();
                if d2.load(SeqCst) {
                    return None; // read(2) got the bytes
                }
                // read(2) said WouldBlock: forget what `ev` reported,
                // unless an edge came since.
                s2.desc.clear_readiness(ev);
                Some(wait_readable(&s2))
            });
            data.store(true, SeqCst);
            event(&s, Ready::READABLE);
            match task.join().unwrap() {
                None => {}
                // Ready: the task retries read(2) and gets the bytes.
                Some((Some(r), woken)) => {
                    assert!(r.unwrap().is_readable());
                    assert_eq!(woken.0.load(SeqCst), 0);
                }
                // Parked: the edge after its WouldBlock must wake it.
                Some((None, woken)) => assert_eq!(woken.0.load(SeqCst), 1),
            }
            assert!(no_waiters_left(&s));
        });
    }

    #[test]
    fn an_event_racing_close_neither_revives_the_descriptor_nor_strands_a_waiter() {
        loom::model(|| {
            let s = shared(Ready::EMPTY);
            let s2 = s.clone();
            let task = thread::spawn(move || wait_readable(&s2));
            let s3 = s.clone();
            let closer = thread::spawn(move || s3.desc.close(&s3.nwaiters));
            event(&s, Ready::READABLE | Ready::WRITABLE);
            let (got, woken) = task.join().unwrap();
            closer.join().unwrap();
            match got {
                Some(_) => assert_eq!(woken.0.load(SeqCst), 0),
                // Parked: woken once, by the event or by close.
                None => assert_eq!(woken.0.load(SeqCst), 1),
            }
            // The event after close left CLOSED set: every op fails.
            assert_ne!(s.desc.readiness.load(SeqCst) & CLOSED, 0);
            assert!(s.desc.ready_now(Direction::Read).is_err());
            assert!(s.desc.ready_now(Direction::Write).is_err());
            assert!(no_waiters_left(&s), "a waiter left on a closed descriptor");
        });
    }
}
