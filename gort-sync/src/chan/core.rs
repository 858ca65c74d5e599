//! The channel state machine: Go's `hchan` with `chansend`, `chanrecv`,
//! `closechan` (runtime/chan.go), behind one lock.
//!
//! A channel is one [`Mutex`] around [`State`]: the ring buffer, the closed
//! flag, and the two FIFO queues of blocked operations (Go's `recvq` and
//! `sendq`). Every operation takes the lock once, does what Go's function of
//! the same name does, and wakes the tasks it completed *after* unlocking.
//! One `std` mutex, as Go uses one `runtime.mutex` per channel: under
//! contention the lock is held for a few dozen instructions and a futex-based
//! mutex is hard to beat; a lock-free design would also have to make the
//! select token and the waiter queues lock-free. That is left until a bench
//! shows the lock is the bottleneck.
//!
//! ## Invariants (under the lock)
//! - `buf.len() <= cap`, except for values put back by a dropped receive
//!   (see *Cancellation*), which may push `buf` one value over per dropped
//!   receive. Senders never add to a buffer that is at or over
//!   `cap - reserved`.
//! - `reserved` counts slots promised to tokio-style reservations
//!   (`mpsc::Permit`); they only exist on channels made by `mpsc`. A
//!   send waiter (value or reservation) is linked in `sendq` only while
//!   `buf.len() + reserved >= cap`: whenever room appears, `refill` hands
//!   it to the oldest waiters.
//! - If `buf` is non-empty, no receive waiter that could be completed is
//!   linked in `recvq` (a sender hands its value to such a waiter instead,
//!   and a value buffered while streams wait unlinks and wakes them).
//! - `in_flight` counts the receive waiters holding a value they have not
//!   returned yet (`RecvSlot::Received`). A closed channel is *drained* only
//!   when `buf` is empty and `in_flight` is zero: until then no receive is
//!   told `None`, because a dropped receive may still give its value back.
//! - Every waiter linked in a queue is still waiting; a waiter that was
//!   completed, closed, or skipped because its select committed another case
//!   is unlinked at that moment and stays in the slab until its future
//!   collects the result or is dropped.
//! - Completing a waiter that belongs to a `select!` requires winning that
//!   select's token first (Go's `selectDone` CAS in `waitq.dequeue`), so at
//!   most one case of a select ever completes.
//!
//! ## Go's mechanics kept
//! - Direct hand-off: a sender that finds a waiting receiver writes the value
//!   into the receiver's slot and wakes it (Go's `send`); a receiver that
//!   finds a waiting sender on an unbuffered channel takes the value from the
//!   sender's slot (Go's `recv`), and on a full buffered channel takes the
//!   head of the buffer and moves the sender's value into the tail, so FIFO
//!   order is kept.
//! - `closechan` completes every waiter: receivers get `None`, senders get
//!   their value back (where Go panics).
//!
//! ## Departures from Go, and why
//! - Cancellation. A goroutine cannot be cancelled while parked on a channel;
//!   a future can be dropped. A dropped send simply removes its waiter: its
//!   value is dropped with it, exactly once, and was never delivered. A value
//!   already handed to a receive whose future is dropped before it returned
//!   the value is *put back*: it goes to the next receiver that can take it,
//!   or, if none waits, to the *front* of the buffer (even past `cap`, even
//!   on an unbuffered channel), so the next receive gets it first. Nothing is
//!   lost and nothing is delivered twice; the sender of that value had
//!   already been told it was received, which is true of the channel as a
//!   whole. For the same reason a closed channel with values in flight is
//!   not yet drained: receives wait (instead of getting `None`) until every
//!   such value has been returned by its receive or given back — otherwise
//!   a consumer that stops at `None` would never see a value given back
//!   after it, and the value would be lost.
//! - Last sender dropped: the channel is closed (Go would leak the blocked
//!   receivers instead). Last receiver dropped: nobody can ever receive, so
//!   buffered values are dropped and every send, waiting or future, fails
//!   with the value given back, instead of blocking forever.
//! - Waiters live in a slab owned by the lock, not in Go's per-goroutine
//!   `sudog`s; a blocked operation costs one slot, reused afterwards.
//! - Streams. A `recv` future or a select case is dropped when its caller
//!   loses interest, so its waiter can take a value (it gives it back if
//!   dropped). `Receiver`'s `Stream::poll_next` cannot know: its
//!   registration lives in the `Receiver` and outlives an abandoned
//!   `next()`. So a stream waits as a *notify-only* waiter
//!   (`RecvSlot::Polling`): senders hand values to the other receivers
//!   first; when only streams wait, the value is buffered (past `cap` if
//!   need be, as a put-back value is) and every waiting stream is woken to
//!   come and take it — or whoever receives first does. An abandoned
//!   registration thus holds no value back from anyone.

use std::collections::VecDeque;
use std::task::{Poll, Waker};

use crate::primitives::{lock, Mutex, MutexGuard};
use crate::select::token::{try_win_pair, Claim, SelectRef};
use crate::select::SelectCtx;
use crate::waitq::WaitQueue;

/// A channel: shared by every `Sender` and `Receiver` of it.
pub(crate) struct Chan<T> {
    state: Mutex<State<T>>,
    cap: usize,
}

pub(crate) struct State<T> {
    /// Buffered values, oldest first (Go's `buf`, `sendx`, `recvx`).
    buf: VecDeque<T>,
    /// `close` was called or the last `Sender` dropped. Never cleared.
    closed: bool,
    /// The last `Receiver` dropped. Never cleared.
    receivers_gone: bool,
    /// Live `Sender` handles; the channel closes when it reaches zero.
    senders: usize,
    /// Live `Receiver` handles; `receivers_gone` is set when it reaches zero.
    receivers: usize,
    /// Receive waiters holding a value not yet returned by their future
    /// (`RecvSlot::Received`): set when a value is handed over, cleared when
    /// the future returns it or is dropped (and gives it back).
    in_flight: usize,
    /// Buffer slots held by reservations (tokio's `mpsc::Permit`): counted
    /// as occupied by senders, and, like `in_flight`, they keep a closed
    /// channel from being drained, since each may still deliver a value.
    reserved: usize,
    recvq: WaitQueue<Waiter<RecvSlot<T>>>,
    sendq: WaitQueue<Waiter<SendSlot<T>>>,
    /// Tasks waiting in `mpsc::Sender::closed` for the channel to close or
    /// its receivers to go; all are woken (and unlinked) when it happens.
    closedq: WaitQueue<Waker>,
}

/// A blocked operation (Go's `sudog`).
pub(crate) struct Waiter<S> {
    waker: Waker,
    /// The select this waiter is a case of, if any (Go's `sudog.isSelect`).
    sel: Option<SelectRef>,
    slot: S,
}

/// Where a blocked receive gets its result.
pub(crate) enum RecvSlot<T> {
    /// A `recv` future or select case, waiting to be handed a value.
    Waiting,
    /// A stream's registration: notify-only, never handed a value.
    Polling,
    /// A stream's registration that was told to try again.
    Notified,
    Received(T),
    Closed,
}

/// A blocked send's value, then its outcome; or a blocked reservation.
pub(crate) enum SendSlot<T> {
    Waiting(T),
    Sent,
    Closed(T),
    /// A reservation waiting for a buffer slot (carries no value, is never
    /// taken by a receive directly: only a freed slot completes it).
    Reserving,
    /// The reservation was granted a slot (counted in `reserved`).
    Reserved,
    /// The channel closed, or its receivers went, before a slot was free.
    ReserveClosed,
}

/// The outcome of trying an operation under the lock without blocking.
enum Attempt<R, V> {
    /// The operation completed with this result.
    Done(R),
    /// The operation belongs to a select that committed another case.
    Lost(V),
    /// The operation would block.
    Blocked(V),
}

/// The outcome of looking for a counterpart in a wait queue.
enum Dequeued {
    Found(usize),
    MeLost,
    Empty,
}

/// Whether a linked waiter can be handed a value (or have its value taken)
/// by a counterpart.
trait Slot {
    fn takes_values(&self) -> bool;
}

impl<T> Slot for RecvSlot<T> {
    fn takes_values(&self) -> bool {
        !matches!(self, RecvSlot::Polling)
    }
}

impl<T> Slot for SendSlot<T> {
    fn takes_values(&self) -> bool {
        !matches!(self, SendSlot::Reserving)
    }
}

/// Wakers collected under the lock and woken after it is released.
pub(crate) struct WakeList {
    inline: [Option<Waker>; 2],
    more: Vec<Waker>,
}

impl WakeList {
    fn new() -> Self {
        WakeList {
            inline: [None, None],
            more: Vec::new(),
        }
    }

    fn push(&mut self, w: Waker) {
        match self.inline.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(w),
            None => self.more.push(w),
        }
    }

    fn wake_all(self) {
        // Most operations wake nobody: skip building the iterator.
        if self.inline[0].is_none() {
            return;
        }
        for w in self.inline.into_iter().flatten().chain(self.more) {
            w.wake();
        }
    }
}

fn take_waker<S>(w: &mut Waiter<S>) -> Waker {
    std::mem::replace(&mut w.waker, Waker::noop().clone())
}

/// Finds the first waiter in `q` that can be completed, claiming the
/// select tokens involved (Go's `waitq.dequeue`). Waiters whose select
/// committed another case are unlinked on the way. A select never matches
/// its own waiter (possible when it has a send and a receive case on one
/// channel), nor is a stream's notify-only waiter handed a value: those are
/// passed over and stay linked.
fn dequeue<S: Slot>(q: &mut WaitQueue<Waiter<S>>, me: Option<&SelectCtx<'_>>) -> Dequeued {
    let mut cur = q.head();
    while let Some(k) = cur {
        cur = q.next(k);
        if !q.get(k).slot.takes_values() {
            continue;
        }
        let claim = match (&q.get(k).sel, me) {
            (None, None) => Claim::Won,
            (None, Some(me)) => {
                if me.win() {
                    Claim::Won
                } else {
                    Claim::MeLost
                }
            }
            (Some(peer), None) => {
                if peer.try_win() {
                    Claim::Won
                } else {
                    Claim::PeerLost
                }
            }
            (Some(peer), Some(me)) if std::ptr::eq(&*peer.token, me.token) => continue,
            (Some(peer), Some(me)) => try_win_pair(me.token, me.case, &peer.token, peer.case),
        };
        match claim {
            Claim::Won => {
                q.unlink(k);
                return Dequeued::Found(k);
            }
            Claim::MeLost => return Dequeued::MeLost,
            Claim::PeerLost => q.unlink(k),
        }
    }
    Dequeued::Empty
}

/// Claims `me`'s select token, if any, for an operation that needs no
/// counterpart (buffer, closed channel).
fn win(me: Option<&SelectCtx<'_>>) -> bool {
    me.is_none_or(SelectCtx::win)
}

impl<T> State<T> {
    /// Go's `chanrecv` fast paths, under the lock.
    fn try_recv(
        &mut self,
        cap: usize,
        me: Option<&SelectCtx<'_>>,
        wakes: &mut WakeList,
    ) -> Attempt<Option<T>, ()> {
        if !self.buf.is_empty() {
            if !win(me) {
                return Attempt::Lost(());
            }
            let v = self.buf.pop_front();
            self.refill(cap, wakes);
            return Attempt::Done(v);
        }
        match dequeue(&mut self.sendq, me) {
            Dequeued::Found(k) => {
                let w = self.sendq.get_mut(k);
                let SendSlot::Waiting(v) = std::mem::replace(&mut w.slot, SendSlot::Sent) else {
                    unreachable!("a linked send waiter holds its value")
                };
                wakes.push(take_waker(w));
                return Attempt::Done(Some(v));
            }
            Dequeued::MeLost => return Attempt::Lost(()),
            Dequeued::Empty => {}
        }
        if self.closed && self.in_flight == 0 && self.reserved == 0 {
            return if win(me) {
                Attempt::Done(None)
            } else {
                Attempt::Lost(())
            };
        }
        // Open, or closed with a value in flight that may come back.
        Attempt::Blocked(())
    }

    /// A reservation's fast path: `Some(true)` took a slot, `Some(false)`
    /// the channel is closed or has no receivers, `None` it must wait.
    fn try_reserve(&mut self, cap: usize) -> Option<bool> {
        if self.closed || self.receivers_gone {
            return Some(false);
        }
        if self.buf.len() + self.reserved < cap {
            self.reserved += 1;
            return Some(true);
        }
        None
    }

    /// Go's `chansend` fast paths, under the lock.
    fn try_send(
        &mut self,
        cap: usize,
        v: T,
        me: Option<&SelectCtx<'_>>,
        wakes: &mut WakeList,
    ) -> Attempt<Result<(), T>, T> {
        if self.closed || self.receivers_gone {
            return if win(me) {
                Attempt::Done(Err(v))
            } else {
                Attempt::Lost(v)
            };
        }
        match dequeue(&mut self.recvq, me) {
            Dequeued::Found(k) => {
                let w = self.recvq.get_mut(k);
                w.slot = RecvSlot::Received(v);
                wakes.push(take_waker(w));
                self.in_flight += 1;
                return Attempt::Done(Ok(()));
            }
            Dequeued::MeLost => return Attempt::Lost(v),
            Dequeued::Empty => {}
        }
        // Nobody can be handed the value: buffer it if there is room, or
        // past `cap` if a stream waits for one (the stream is woken to take
        // it; see *Streams*).
        if self.buf.len() + self.reserved < cap || self.has_waiting_streams() {
            if !win(me) {
                return Attempt::Lost(v);
            }
            self.buf.push_back(v);
            self.notify_streams(wakes);
            return Attempt::Done(Ok(()));
        }
        Attempt::Blocked(v)
    }

    /// Gives buffer room to blocked senders, oldest first: a sender's value
    /// goes to the tail, keeping FIFO order (Go's `recv()`), a reservation
    /// is granted its slot. Senders block only on a full buffer, so this
    /// runs whenever room appears (a receive, a released reservation).
    fn refill(&mut self, cap: usize, wakes: &mut WakeList) {
        while self.buf.len() + self.reserved < cap {
            let Some(k) = self.sendq.head() else { return };
            self.sendq.unlink(k);
            let w = self.sendq.get_mut(k);
            if !w.sel.as_ref().is_none_or(SelectRef::try_win) {
                continue;
            }
            match std::mem::replace(&mut w.slot, SendSlot::Sent) {
                SendSlot::Waiting(v) => self.buf.push_back(v),
                SendSlot::Reserving => {
                    w.slot = SendSlot::Reserved;
                    self.reserved += 1;
                }
                _ => unreachable!("a linked send waiter holds a value or a reservation"),
            }
            wakes.push(take_waker(w));
        }
    }

    /// A reservation gave its slot back unused, or used it for a value
    /// handed straight to a receiver.
    fn unreserve(&mut self, cap: usize, wakes: &mut WakeList) {
        self.reserved -= 1;
        self.refill(cap, wakes);
        self.release_receivers_if_drained(wakes);
    }

    /// Wakes every `mpsc::Sender::closed` waiter: sends now fail.
    fn wake_closed(&mut self, wakes: &mut WakeList) {
        while let Some(k) = self.closedq.head() {
            self.closedq.unlink(k);
            let w = self.closedq.get_mut(k);
            wakes.push(std::mem::replace(w, Waker::noop().clone()));
        }
    }

    fn has_waiting_streams(&self) -> bool {
        let mut cur = self.recvq.head();
        while let Some(k) = cur {
            if let RecvSlot::Polling = self.recvq.get(k).slot {
                return true;
            }
            cur = self.recvq.next(k);
        }
        false
    }

    /// Tells every waiting stream to try again: a value was buffered.
    fn notify_streams(&mut self, wakes: &mut WakeList) {
        let mut cur = self.recvq.head();
        while let Some(k) = cur {
            cur = self.recvq.next(k);
            let w = self.recvq.get_mut(k);
            if let RecvSlot::Polling = w.slot {
                w.slot = RecvSlot::Notified;
                wakes.push(take_waker(w));
                self.recvq.unlink(k);
            }
        }
    }

    /// Closes the channel: Go's `closechan` loop. Every blocked sender gets
    /// its value back; blocked receivers get `None` unless a value is still
    /// in flight (then the last one collected, or a value given back,
    /// releases them).
    fn close(&mut self, wakes: &mut WakeList) {
        self.closed = true;
        self.release_senders(wakes);
        self.release_receivers_if_drained(wakes);
        self.wake_closed(wakes);
    }

    /// Completes every blocked receive (whose select, if any, can still
    /// commit) with `None`, if the channel is closed and drained.
    fn release_receivers_if_drained(&mut self, wakes: &mut WakeList) {
        if !self.closed || self.in_flight > 0 || self.reserved > 0 || !self.buf.is_empty() {
            return;
        }
        while let Some(k) = self.recvq.head() {
            self.recvq.unlink(k);
            let w = self.recvq.get_mut(k);
            if let RecvSlot::Polling = w.slot {
                w.slot = RecvSlot::Notified;
                wakes.push(take_waker(w));
            } else if w.sel.as_ref().is_none_or(SelectRef::try_win) {
                w.slot = RecvSlot::Closed;
                wakes.push(take_waker(w));
            }
        }
    }

    /// Completes every blocked send (whose select, if any, can still
    /// commit) with its value back.
    fn release_senders(&mut self, wakes: &mut WakeList) {
        while let Some(k) = self.sendq.head() {
            self.sendq.unlink(k);
            let w = self.sendq.get_mut(k);
            if w.sel.as_ref().is_none_or(SelectRef::try_win) {
                w.slot = match std::mem::replace(&mut w.slot, SendSlot::Sent) {
                    SendSlot::Waiting(v) => SendSlot::Closed(v),
                    SendSlot::Reserving => SendSlot::ReserveClosed,
                    _ => unreachable!("a linked send waiter holds a value or a reservation"),
                };
                wakes.push(take_waker(w));
            }
        }
    }

    /// Gives a value taken by a dropped receive back to the channel: to the
    /// next receiver that can take it, else to the front of the buffer (and
    /// waiting streams are told).
    fn put_back(&mut self, v: T, wakes: &mut WakeList) {
        match dequeue(&mut self.recvq, None) {
            Dequeued::Found(k) => {
                let w = self.recvq.get_mut(k);
                w.slot = RecvSlot::Received(v);
                wakes.push(take_waker(w));
                self.in_flight += 1;
            }
            Dequeued::MeLost | Dequeued::Empty => {
                self.buf.push_front(v);
                self.notify_streams(wakes);
            }
        }
    }
}

fn register<S>(
    q: &mut WaitQueue<Waiter<S>>,
    waker: &Waker,
    me: Option<&SelectCtx<'_>>,
    slot: S,
) -> usize {
    q.push_back(Waiter {
        waker: waker.clone(),
        sel: me.map(SelectCtx::to_ref),
        slot,
    })
}

/// Replaces a waiter's waker if it changed, returning the old one: the
/// caller drops it after releasing the lock (a waker's drop may re-enter).
fn refresh_waker<S>(w: &mut Waiter<S>, waker: &Waker) -> Option<Waker> {
    (!w.waker.will_wake(waker)).then(|| std::mem::replace(&mut w.waker, waker.clone()))
}

impl<T> Chan<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Chan {
            state: Mutex::new(State {
                buf: VecDeque::with_capacity(cap.min(1024)),
                closed: false,
                receivers_gone: false,
                senders: 1,
                receivers: 1,
                in_flight: 0,
                reserved: 0,
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
                closedq: WaitQueue::new(),
            }),
            cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        lock(&self.state)
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().buf.len()
    }

    pub(crate) fn is_closed(&self) -> bool {
        let st = self.lock();
        st.closed || st.receivers_gone
    }

    /// Polls a receive whose blocked waiter, if any, is `*key`.
    ///
    /// `me` is the select context when the receive is a select case; a
    /// select case only registers a waiter when `me.register` is set.
    /// `stream` registers a notify-only waiter (see *Streams*).
    pub(crate) fn poll_recv(
        &self,
        waker: &Waker,
        key: &mut Option<usize>,
        me: Option<&SelectCtx<'_>>,
        stream: bool,
    ) -> Poll<Option<T>> {
        let mut wakes = WakeList::new();
        // Declared before the guard, so dropped after it.
        let stale;
        let mut st = self.lock();
        if let Some(k) = *key {
            let w = st.recvq.get_mut(k);
            if let RecvSlot::Waiting | RecvSlot::Polling = w.slot {
                stale = refresh_waker(w, waker);
                drop(st);
                drop(stale);
                return Poll::Pending;
            }
            *key = None;
            match st.recvq.remove(k).slot {
                RecvSlot::Received(v) => {
                    st.in_flight -= 1;
                    // The last value in flight of a closed channel: the
                    // receives that waited for it to settle get `None`.
                    st.release_receivers_if_drained(&mut wakes);
                    drop(st);
                    wakes.wake_all();
                    return Poll::Ready(Some(v));
                }
                RecvSlot::Closed => return Poll::Ready(None),
                // A stream told to try again: it tries below, as a new receive.
                RecvSlot::Notified => {}
                RecvSlot::Waiting | RecvSlot::Polling => unreachable!(),
            }
        }
        match st.try_recv(self.cap, me, &mut wakes) {
            Attempt::Done(v) => {
                drop(st);
                wakes.wake_all();
                Poll::Ready(v)
            }
            Attempt::Lost(()) => Poll::Pending,
            Attempt::Blocked(()) => {
                if me.is_none_or(|m| m.register) {
                    let slot = if stream {
                        RecvSlot::Polling
                    } else {
                        RecvSlot::Waiting
                    };
                    *key = Some(register(&mut st.recvq, waker, me, slot));
                }
                Poll::Pending
            }
        }
    }

    /// Polls a send whose value is in `*value` until it blocks, then in the
    /// waiter `*key`.
    pub(crate) fn poll_send(
        &self,
        waker: &Waker,
        key: &mut Option<usize>,
        value: &mut Option<T>,
        me: Option<&SelectCtx<'_>>,
    ) -> Poll<Result<(), T>> {
        let mut wakes = WakeList::new();
        let stale;
        let mut st = self.lock();
        if let Some(k) = *key {
            let w = st.sendq.get_mut(k);
            if let SendSlot::Waiting(_) = w.slot {
                stale = refresh_waker(w, waker);
                drop(st);
                drop(stale);
                return Poll::Pending;
            }
            *key = None;
            return Poll::Ready(match st.sendq.remove(k).slot {
                SendSlot::Sent => Ok(()),
                SendSlot::Closed(v) => Err(v),
                _ => unreachable!("a send waiter ends sent or closed"),
            });
        }
        let v = value.take().expect("send future polled after completion");
        match st.try_send(self.cap, v, me, &mut wakes) {
            Attempt::Done(r) => {
                drop(st);
                wakes.wake_all();
                Poll::Ready(r)
            }
            Attempt::Lost(v) => {
                *value = Some(v);
                Poll::Pending
            }
            Attempt::Blocked(v) => {
                if me.is_none_or(|m| m.register) {
                    *key = Some(register(&mut st.sendq, waker, me, SendSlot::Waiting(v)));
                } else {
                    *value = Some(v);
                }
                Poll::Pending
            }
        }
    }

    /// A receive that never blocks (Go's `select` with `default`).
    pub(crate) fn try_recv(&self) -> Result<T, bool> {
        let mut wakes = WakeList::new();
        let r = match self.lock().try_recv(self.cap, None, &mut wakes) {
            Attempt::Done(Some(v)) => Ok(v),
            Attempt::Done(None) => Err(true),
            Attempt::Lost(()) | Attempt::Blocked(()) => Err(false),
        };
        wakes.wake_all();
        r
    }

    /// A send that never blocks: `Err((v, closed))` when it would block or
    /// the channel is closed.
    pub(crate) fn try_send(&self, v: T) -> Result<(), (T, bool)> {
        let mut wakes = WakeList::new();
        let r = match self.lock().try_send(self.cap, v, None, &mut wakes) {
            Attempt::Done(Ok(())) => Ok(()),
            Attempt::Done(Err(v)) => Err((v, true)),
            Attempt::Lost(v) | Attempt::Blocked(v) => Err((v, false)),
        };
        wakes.wake_all();
        r
    }

    /// Removes a dropped receive's waiter, putting back a value it was
    /// handed but never returned. The waiter (and its waker) is dropped
    /// after the lock is released.
    pub(crate) fn cancel_recv(&self, key: usize) {
        let mut wakes = WakeList::new();
        let waiter = {
            let mut st = self.lock();
            let mut waiter = st.recvq.remove(key);
            if let RecvSlot::Received(v) = std::mem::replace(&mut waiter.slot, RecvSlot::Closed) {
                st.in_flight -= 1;
                st.put_back(v, &mut wakes);
            }
            waiter
        };
        drop(waiter);
        wakes.wake_all();
    }

    /// Removes a dropped send's (or reservation's) waiter; its value, if
    /// still there, is dropped after the lock is released. A reservation
    /// granted but never collected gives its slot back.
    pub(crate) fn cancel_send(&self, key: usize) {
        let mut wakes = WakeList::new();
        let waiter = {
            let mut st = self.lock();
            let waiter = st.sendq.remove(key);
            if let SendSlot::Reserved = waiter.slot {
                st.unreserve(self.cap, &mut wakes);
            }
            waiter
        };
        drop(waiter);
        wakes.wake_all();
    }

    /// Polls a reservation of one buffer slot (tokio's `Sender::reserve`):
    /// `Ready(true)` once a slot is held, `Ready(false)` if the channel is
    /// closed or its receivers are gone. Waits in `sendq` with the senders,
    /// FIFO.
    pub(crate) fn poll_reserve(&self, waker: &Waker, key: &mut Option<usize>) -> Poll<bool> {
        let stale;
        let mut st = self.lock();
        if let Some(k) = *key {
            let w = st.sendq.get_mut(k);
            if let SendSlot::Reserving = w.slot {
                stale = refresh_waker(w, waker);
                drop(st);
                drop(stale);
                return Poll::Pending;
            }
            *key = None;
            return Poll::Ready(match st.sendq.remove(k).slot {
                SendSlot::Reserved => true,
                SendSlot::ReserveClosed => false,
                _ => unreachable!("a reservation ends granted or closed"),
            });
        }
        match st.try_reserve(self.cap) {
            Some(held) => Poll::Ready(held),
            None => {
                *key = Some(register(&mut st.sendq, waker, None, SendSlot::Reserving));
                Poll::Pending
            }
        }
    }

    /// A reservation that never blocks: `Err(closed)` when none is free.
    pub(crate) fn try_reserve(&self) -> Result<(), bool> {
        match self.lock().try_reserve(self.cap) {
            Some(true) => Ok(()),
            Some(false) => Err(true),
            None => Err(false),
        }
    }

    /// Gives back a reservation that was not used.
    pub(crate) fn release_reservation(&self) {
        let mut wakes = WakeList::new();
        self.lock().unreserve(self.cap, &mut wakes);
        wakes.wake_all();
    }

    /// Sends `v` into a reserved slot: to a waiting receiver, else into the
    /// buffer. This works on a channel closed by its receiver (the slot was
    /// promised); `Err(v)` only if every receiver is gone, and the caller
    /// drops `v` outside the lock.
    pub(crate) fn send_reserved(&self, v: T) -> Result<(), T> {
        let mut wakes = WakeList::new();
        let r = {
            let mut st = self.lock();
            if st.receivers_gone {
                st.reserved -= 1;
                Err(v)
            } else {
                match dequeue(&mut st.recvq, None) {
                    Dequeued::Found(k) => {
                        let w = st.recvq.get_mut(k);
                        w.slot = RecvSlot::Received(v);
                        wakes.push(take_waker(w));
                        st.in_flight += 1;
                        st.unreserve(self.cap, &mut wakes);
                    }
                    Dequeued::MeLost | Dequeued::Empty => {
                        st.reserved -= 1;
                        st.buf.push_back(v);
                        st.notify_streams(&mut wakes);
                    }
                }
                Ok(())
            }
        };
        wakes.wake_all();
        r
    }

    /// Free buffer slots right now: `cap` minus buffered values and held
    /// reservations (tokio's `Sender::capacity`).
    pub(crate) fn capacity(&self) -> usize {
        let st = self.lock();
        self.cap.saturating_sub(st.buf.len() + st.reserved)
    }

    /// Polls for the channel to be closed or lose its receivers (tokio's
    /// `Sender::closed`), waiting in `closedq` as `*key`.
    pub(crate) fn poll_closed(&self, waker: &Waker, key: &mut Option<usize>) -> Poll<()> {
        let stale;
        let mut st = self.lock();
        if st.closed || st.receivers_gone {
            let w = key.take().map(|k| st.closedq.remove(k));
            drop(st);
            drop(w);
            return Poll::Ready(());
        }
        match *key {
            Some(k) => {
                let w = st.closedq.get_mut(k);
                stale = (!w.will_wake(waker)).then(|| std::mem::replace(w, waker.clone()));
                drop(st);
                drop(stale);
            }
            None => *key = Some(st.closedq.push_back(waker.clone())),
        }
        Poll::Pending
    }

    /// Removes a dropped `closed` future's waiter.
    pub(crate) fn cancel_closed(&self, key: usize) {
        let w = self.lock().closedq.remove(key);
        drop(w);
    }

    /// Adds a sender if one is still alive (tokio's `WeakSender::upgrade`).
    pub(crate) fn try_add_sender(&self) -> bool {
        let mut st = self.lock();
        if st.senders == 0 {
            return false;
        }
        st.senders += 1;
        true
    }

    /// Live `Sender` handles.
    pub(crate) fn sender_count(&self) -> usize {
        self.lock().senders
    }

    /// Removes the waiter of a send case whose select must register again
    /// under a new token, giving back its value. The select's old token is
    /// decided for another case, so nobody could have completed the waiter:
    /// it still holds the value.
    pub(crate) fn withdraw_send(&self, key: usize) -> Option<T> {
        let waiter = self.lock().sendq.remove(key);
        match waiter.slot {
            SendSlot::Waiting(v) => Some(v),
            SendSlot::Sent | SendSlot::Closed(_) => {
                unreachable!("a send waiter of a decided select completed")
            }
            // Reservations (mpsc's `reserve`) are never select cases.
            SendSlot::Reserving | SendSlot::Reserved | SendSlot::ReserveClosed => {
                unreachable!("a select send case was a reservation")
            }
        }
    }

    /// Go's `closechan`. `false` if the channel was already closed.
    pub(crate) fn close(&self) -> bool {
        let mut wakes = WakeList::new();
        {
            let mut st = self.lock();
            if st.closed {
                return false;
            }
            st.close(&mut wakes);
        }
        wakes.wake_all();
        true
    }

    pub(crate) fn add_sender(&self) {
        self.lock().senders += 1;
    }

    pub(crate) fn add_receiver(&self) {
        self.lock().receivers += 1;
    }

    /// A `Sender` was dropped: the last one closes the channel.
    pub(crate) fn drop_sender(&self) {
        let mut wakes = WakeList::new();
        {
            let mut st = self.lock();
            st.senders -= 1;
            if st.senders > 0 || st.closed {
                return;
            }
            st.close(&mut wakes);
        }
        wakes.wake_all();
    }

    /// A `Receiver` was dropped: after the last one, every send fails and
    /// the buffered values, which nobody can receive, are dropped.
    pub(crate) fn drop_receiver(&self) {
        let mut wakes = WakeList::new();
        let unreachable_values = {
            let mut st = self.lock();
            st.receivers -= 1;
            if st.receivers > 0 {
                return;
            }
            st.receivers_gone = true;
            st.release_senders(&mut wakes);
            st.wake_closed(&mut wakes);
            std::mem::take(&mut st.buf)
        };
        wakes.wake_all();
        drop(unreachable_values);
    }
}
