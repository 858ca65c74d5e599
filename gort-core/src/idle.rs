//! Idle Ps, idle Ms and spinning Ms (Go's `sched.pidle`, `sched.midle`,
//! `sched.nmspinning`, and `wakep` / `startm` / `stopm` / `handoffp`).
//!
//! Go's rule for not burning CPU: an M that finds no work may *spin*
//! (look for work to steal) only while fewer than half of the busy Ps have
//! a spinning M; otherwise it releases its P and sleeps. Whoever makes a
//! task runnable calls `wakep`, which starts one spinning M if there is an
//! idle P and nobody is spinning yet; a spinning M that finds work wakes
//! the next one (`reset_spinning`). So at most one M is woken per burst of
//! new work, and an idle runtime has every M asleep: in the driver (one of
//! them, with the earliest timer as timeout) or on its own parker.
//!
//! All of it is guarded by one lock, Go's `sched.lock`; the two counters
//! that the hot paths read (`npidle`, `nmspinning`) are atomics as in Go.
//! Lock order: this lock, then an M's parker lock.

use std::sync::atomic::{
    AtomicUsize,
    Ordering::{AcqRel, Acquire, SeqCst},
};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What `startm` hands an M: a P to run with, and whether the M counts as
/// spinning (the starter already incremented `nmspinning` for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Assignment {
    pub(crate) p: usize,
    pub(crate) spinning: bool,
}

/// How an idle M is woken (Go's `m.park` note).
pub(crate) struct MParker {
    pub(crate) m_id: u64,
    slot: Mutex<Slot>,
    cond: Condvar,
}

#[derive(Default)]
struct Slot {
    next: Option<Assignment>,
    /// Woken without an assignment: the runtime is shutting down.
    exit: bool,
}

impl MParker {
    pub(crate) fn new(m_id: u64) -> Arc<MParker> {
        Arc::new(MParker {
            m_id,
            slot: Mutex::new(Slot::default()),
            cond: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives the M a P (called with the sched lock held).
    fn assign(&self, a: Assignment) {
        let mut s = self.lock();
        debug_assert!(s.next.is_none());
        s.next = Some(a);
        self.cond.notify_one();
    }

    pub(crate) fn tell_exit(&self) {
        let mut s = self.lock();
        s.exit = true;
        self.cond.notify_one();
    }

    /// Sleeps until an assignment arrives; `None` means exit.
    pub(crate) fn wait(&self) -> Option<Assignment> {
        let mut s = self.lock();
        loop {
            if let Some(a) = s.next.take() {
                return Some(a);
            }
            if s.exit {
                return None;
            }
            s = self.cond.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// An idle M on the list, and where it sleeps.
struct IdleM {
    parker: Arc<MParker>,
    in_driver: bool,
}

pub(crate) struct SchedState {
    /// Idle Ps (Go's `sched.pidle`), used as a stack.
    pidle: Vec<usize>,
    /// Idle Ms (Go's `sched.midle`), including the one blocked in the driver.
    midle: Vec<IdleM>,
    /// Someone is blocked in `Driver::park` (Go's `sched.lastpoll == 0`).
    pub(crate) driver_busy: bool,
    /// Number of M threads alive.
    pub(crate) mcount: usize,
    /// The world is being stopped (Go's `sched.gcwaiting`): no P is handed
    /// out until `set_gomaxprocs` is done.
    pub(crate) stw: bool,
}

pub(crate) struct Idle {
    state: Mutex<SchedState>,
    /// `pidle.len()`, readable without the lock.
    pub(crate) npidle: AtomicUsize,
    /// Spinning Ms (Go's `sched.nmspinning`).
    pub(crate) nmspinning: AtomicUsize,
}

/// What `start_m` found to run the P.
pub(crate) enum StartM {
    /// An idle M was given the P; `in_driver` says it must be unparked
    /// through the driver.
    Woke { in_driver: bool },
    /// No idle M: the caller must start a new thread with this assignment.
    Spawn(Assignment),
    /// No idle P was available (only when asked to pick one).
    NoP,
}

impl Idle {
    pub(crate) fn new() -> Idle {
        Idle {
            state: Mutex::new(SchedState {
                pidle: Vec::new(),
                midle: Vec::new(),
                driver_busy: false,
                mcount: 0,
                stw: false,
            }),
            npidle: AtomicUsize::new(0),
            nmspinning: AtomicUsize::new(0),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SchedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// pidleput (lock held).
    pub(crate) fn pidle_put(&self, s: &mut SchedState, p: usize) {
        debug_assert!(!s.pidle.contains(&p));
        s.pidle.push(p);
        self.npidle.store(s.pidle.len(), SeqCst);
    }

    /// pidleget (lock held).
    pub(crate) fn pidle_get(&self, s: &mut SchedState) -> Option<usize> {
        if s.stw {
            return None;
        }
        let p = s.pidle.pop();
        self.npidle.store(s.pidle.len(), SeqCst);
        p
    }

    /// Takes P `p` off the idle list (lock held); false if it was not there.
    pub(crate) fn pidle_remove(&self, s: &mut SchedState, p: usize) -> bool {
        let found = match s.pidle.iter().position(|&x| x == p) {
            Some(i) => {
                s.pidle.remove(i);
                true
            }
            None => false,
        };
        self.npidle.store(s.pidle.len(), SeqCst);
        found
    }

    /// Number of idle Ms (lock held).
    pub(crate) fn idle_ms(s: &SchedState) -> usize {
        s.midle.len()
    }

    /// mput (lock held): `parker`'s M goes to sleep, on its parker or in
    /// the driver.
    pub(crate) fn m_put(&self, s: &mut SchedState, parker: &Arc<MParker>, in_driver: bool) {
        s.midle.push(IdleM {
            parker: parker.clone(),
            in_driver,
        });
    }

    /// Removes an M from the idle list if still there (lock held).
    /// Returns false if someone took it (and so assigned it a P).
    pub(crate) fn m_remove(&self, s: &mut SchedState, m_id: u64) -> bool {
        match s.midle.iter().position(|m| m.parker.m_id == m_id) {
            Some(i) => {
                s.midle.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// startm: runs P `p` (or an idle P when `None`) on an idle M, or says
    /// a new M is needed. The caller holds the lock.
    pub(crate) fn start_m(&self, s: &mut SchedState, p: Option<usize>, spinning: bool) -> StartM {
        if s.stw {
            if let Some(p) = p {
                self.pidle_put(s, p);
            }
            return StartM::NoP;
        }
        let p = match p {
            Some(p) => p,
            None => match self.pidle_get(s) {
                Some(p) => p,
                None => return StartM::NoP,
            },
        };
        let a = Assignment { p, spinning };
        // Prefer an M sleeping on its parker: waking it is a futex wake,
        // while the driver M would have to be kicked out of its poll.
        let pick = s
            .midle
            .iter()
            .rposition(|m| !m.in_driver)
            .or_else(|| s.midle.len().checked_sub(1));
        match pick {
            Some(i) => {
                let m = s.midle.swap_remove(i);
                m.parker.assign(a);
                StartM::Woke {
                    in_driver: m.in_driver,
                }
            }
            None => StartM::Spawn(a),
        }
    }

    /// Wakes every idle M for shutdown (lock held).
    pub(crate) fn wake_all_for_exit(&self, s: &mut SchedState) -> bool {
        let mut driver = false;
        for m in s.midle.drain(..) {
            driver |= m.in_driver;
            m.parker.tell_exit();
        }
        driver
    }

    /// Go's wakep precondition: an idle P and nobody spinning. Claims the
    /// spinning slot when it returns true.
    pub(crate) fn try_claim_spinning(&self) -> bool {
        if self.npidle.load(SeqCst) == 0 || self.nmspinning.load(SeqCst) != 0 {
            return false;
        }
        self.nmspinning
            .compare_exchange(0, 1, AcqRel, Acquire)
            .is_ok()
    }

    /// An M stops spinning; returns true if it was the last spinner.
    pub(crate) fn dec_spinning(&self) -> bool {
        let prev = self.nmspinning.fetch_sub(1, SeqCst);
        debug_assert!(prev > 0);
        prev == 1
    }
}
