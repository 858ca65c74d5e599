//! `select!` with tokio's syntax (issue 12): `biased;`, `if` guards,
//! refutable patterns and `else`, next to Go's semantics.

mod common;

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread;

use common::{block_on, poll_once, Counted, CountingWaker};
use gort_sync::{chan, select, Receiver, TryRecvError};

fn closed<T>() -> Receiver<T> {
    let (_tx, rx) = chan(0);
    rx
}

/// A future that counts its polls and is ready with `out` on the first.
struct CountPolls<T> {
    polls: Arc<AtomicUsize>,
    out: Option<T>,
}

impl<T> CountPolls<T> {
    fn new(polls: &Arc<AtomicUsize>, out: T) -> Self {
        CountPolls {
            polls: polls.clone(),
            out: Some(out),
        }
    }
}

impl<T: Unpin> Future for CountPolls<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<T> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(self.out.take().expect("polled after completion"))
    }
}

#[test]
fn biased_select_always_takes_the_first_ready_case_in_source_order() {
    let rx: Vec<Receiver<u8>> = (0..3).map(|_| closed()).collect();
    let mut counts = [0usize; 3];
    block_on(async {
        for _ in 0..1000 {
            let i = select! {
                biased;
                _ = rx[0].recv() => 0,
                _ = rx[1].recv() => 1,
                _ = rx[2].recv() => 2,
            };
            counts[i] += 1;
        }
    });
    assert_eq!(counts, [1000, 0, 0]);
}

#[test]
fn biased_select_skips_a_case_that_is_not_ready_or_disabled() {
    let (_tx, pending) = chan::<u8>(0);
    let (a, b) = (closed::<u8>(), closed::<u8>());
    let mut counts = [0usize; 4];
    block_on(async {
        for round in 0..1000 {
            let i = select! {
                biased;
                _ = pending.recv() => 0,
                _ = a.recv(), if round % 2 == 0 => 1,
                _ = b.recv() => 2,
                _ = std::future::ready(()) => 3,
            };
            counts[i] += 1;
        }
    });
    assert_eq!(counts, [0, 500, 500, 0]);
}

#[test]
fn unbiased_select_chooses_uniformly_among_the_enabled_ready_cases() {
    const ITERS: usize = if cfg!(miri) { 200 } else { 300_000 };
    let rx: Vec<Receiver<u8>> = (0..3).map(|_| closed()).collect();
    let mut counts = [0usize; 3];
    block_on(async {
        for _ in 0..ITERS {
            let i = select! {
                _ = rx[0].recv() => 0,
                _ = rx[1].recv(), if false => 1,
                _ = rx[2].recv() => 2,
            };
            counts[i] += 1;
        }
    });
    println!("{counts:?}");
    assert_eq!(counts[1], 0, "a disabled case is never chosen");
    if !cfg!(miri) {
        let share = counts[0] as f64 / ITERS as f64;
        assert!((share - 0.5).abs() <= 0.01, "{counts:?}");
    }
}

#[test]
fn false_guard_builds_the_future_but_never_polls_it() {
    let polls = Arc::new(AtomicUsize::new(0));
    let built = Arc::new(AtomicUsize::new(0));
    let make = |v: u32| {
        built.fetch_add(1, Ordering::SeqCst);
        CountPolls::new(&polls, v)
    };
    let (tx, rx) = chan::<u32>(1);
    tx.try_send(7).unwrap();
    let got = block_on(async {
        select! {
            v = make(1), if false => v,
            v = rx.recv() => v.unwrap(),
        }
    });
    assert_eq!(got, 7);
    assert_eq!(built.load(Ordering::SeqCst), 1, "the future was evaluated");
    assert_eq!(polls.load(Ordering::SeqCst), 0, "and never polled");
}

#[test]
fn guards_are_evaluated_before_the_futures_in_source_order() {
    let log = std::cell::RefCell::new(Vec::new());
    let step = |what: &'static str, v: bool| {
        log.borrow_mut().push(what);
        v
    };
    let got = block_on(async {
        select! {
            v = async { step("fut a", true) }, if step("guard a", true) => v,
            v = async { step("fut b", true) }, if step("guard b", false) => v,
        }
    });
    assert!(got);
    let log = log.into_inner();
    assert_eq!(&log[..2], ["guard a", "guard b"]);
    assert_eq!(&log[2..], ["fut a"], "only the enabled async block ran");
}

#[test]
fn all_guards_false_runs_else_without_polling_anything() {
    let polls = Arc::new(AtomicUsize::new(0));
    let (_tx, rx) = chan::<u32>(1);
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {
            v = CountPolls::new(&polls, 1u32), if false => Some(v),
            v = rx.recv(), if 1 + 1 == 3 => v,
            else => None,
        }
    });
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(None));
    assert_eq!(polls.load(Ordering::SeqCst), 0);
    assert_eq!(woken.count(), 0);
}

#[test]
fn else_does_not_run_while_an_enabled_case_is_pending() {
    let (tx, rx) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {
            Some(v) = rx.recv() => v,
            _ = std::future::ready(()), if false => 0,
            else => 99,
        }
    });
    for _ in 0..3 {
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
    }
    tx.try_send(5).unwrap();
    assert_eq!(woken.count(), 1);
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(5));
}

#[test]
fn only_else_runs_else() {
    let v: u32 = block_on(async {
        select! {
            else => 3,
        }
    });
    assert_eq!(v, 3);
    let v: u32 = block_on(async {
        select! {
            biased;
            else => { 4 }
        }
    });
    assert_eq!(v, 4);
}

#[test]
fn all_disabled_without_else_panics_naming_the_cause() {
    let rx = closed::<u32>();
    let err = catch_unwind(AssertUnwindSafe(|| {
        block_on(async {
            select! {
                Some(v) = rx.recv() => v,
                v = std::future::ready(1u32), if false => v,
            }
        })
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert_eq!(
        msg,
        "select!: all branches are disabled and there is no `else` branch"
    );
}

#[test]
fn all_disabled_with_default_and_no_else_runs_default() {
    let rx = closed::<u32>();
    let v = block_on(async {
        select! {
            Some(v) = rx.recv() => v,
            default => 8,
        }
    });
    assert_eq!(v, 8);
}

#[test]
fn default_runs_when_nothing_is_ready_and_else_when_everything_is_disabled() {
    let (_tx, pending) = chan::<u32>(0);
    let shut = closed::<u32>();
    let run = |enabled: bool| {
        block_on(async {
            select! {
                Some(v) = pending.recv(), if enabled => format!("value {v}"),
                Some(v) = shut.recv() => format!("value {v}"),
                default => "default".to_string(),
                else => "else".to_string(),
            }
        })
    };
    assert_eq!(run(true), "default");
    assert_eq!(run(false), "else");
}

#[test]
fn else_break_loop_drains_two_channels_completely_then_stops() {
    const N: u32 = if cfg!(miri) { 20 } else { 2_000 };
    let (tx1, rx1) = chan::<u32>(0);
    let (tx2, rx2) = chan::<u32>(3);
    let p1 = thread::spawn(move || {
        for i in 0..N {
            tx1.send_blocking(i).unwrap();
        }
    });
    let p2 = thread::spawn(move || {
        for i in 0..N {
            tx2.send_blocking(N + i).unwrap();
        }
    });
    let (mut got, mut selects) = (Vec::new(), 0);
    block_on(async {
        loop {
            selects += 1;
            select! {
                Some(v) = rx1.recv() => got.push(v),
                Some(v) = rx2.recv() => got.push(v),
                else => break,
            }
        }
    });
    p1.join().unwrap();
    p2.join().unwrap();
    assert_eq!(
        selects,
        2 * N as usize + 1,
        "one select per value, one for else"
    );
    got.sort_unstable();
    assert_eq!(got, (0..2 * N).collect::<Vec<_>>());
}

#[test]
fn closed_channel_case_is_disabled_and_the_other_case_wins_later() {
    let shut = closed::<u32>();
    let (tx, rx) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {
            Some(v) = shut.recv() => ('a', v),
            Some(v) = rx.recv() => ('b', v),
        }
    });
    for _ in 0..3 {
        assert!(poll_once(fut.as_mut(), &waker).is_pending());
    }
    // The receive case is registered: an unbuffered send finds it.
    tx.try_send(4).unwrap();
    assert_eq!(woken.count(), 1);
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(('b', 4)));
}

#[test]
fn err_output_disables_an_ok_pattern() {
    let (tx, rx) = chan::<u32>(0);
    let waker = Waker::noop();
    let mut fut = pin!(async {
        select! {
            Ok(x) = std::future::ready(Err::<u32, &str>("no")) => x,
            Some(v) = rx.recv() => v + 100,
        }
    });
    assert!(poll_once(fut.as_mut(), waker).is_pending());
    tx.try_send(1).unwrap();
    assert_eq!(poll_once(fut.as_mut(), waker), Poll::Ready(101));
}

#[test]
fn a_value_the_pattern_rejects_is_consumed_and_the_rest_stay_in_order() {
    let (tx, rx) = chan::<u32>(4);
    for v in [1, 2, 3] {
        tx.try_send(v).unwrap();
    }
    let (_tx2, rx2) = chan::<u32>(0);
    let waker = Waker::noop();
    let mut fut = pin!(async {
        select! {
            Some(2) = rx.recv() => "two",
            _ = rx2.recv() => "other",
        }
    });
    // 1 is taken and rejected (consumed: not put back), then the case is
    // disabled for this select.
    assert!(poll_once(fut.as_mut(), waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Ok(3));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn rejection_of_a_blocked_select_reregisters_its_other_cases() {
    // The select blocks with waiters on all three channels; closing `a`
    // commits its case with `None`, which the pattern rejects. The other
    // waiters were registered under the token that case won: they must be
    // taken down and registered afresh, the send case with its value.
    let (tx_a, rx_a) = chan::<u32>(0);
    let (tx_b, rx_b) = chan::<u32>(0);
    let (tx_c, rx_c) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {
            Some(v) = rx_a.recv() => ('a', v),
            Some(v) = rx_b.recv() => ('b', v),
            r = tx_c.send(9) => ('c', u32::from(r.is_ok())),
        }
    });
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    tx_a.close().unwrap();
    assert_eq!(woken.count(), 1);
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    // Both remaining cases can be matched by an unbuffered peer, which
    // needs a registered waiter.
    assert_eq!(rx_c.try_recv(), Ok(9), "the send case kept its value");
    assert_eq!(woken.count(), 2);
    assert!(
        tx_b.try_send(1).is_err(),
        "once case c committed, case b takes nothing"
    );
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready(('c', 1)));
}

#[test]
fn rejection_of_a_blocked_select_lets_a_receive_case_commit_afterwards() {
    let (tx_a, rx_a) = chan::<u32>(0);
    let (tx_b, rx_b) = chan::<u32>(0);
    let (woken, waker) = CountingWaker::new();
    let mut fut = pin!(async {
        select! {
            Some(10) = rx_a.recv() => 'a',
            Some(_) = rx_b.recv() => 'b',
        }
    });
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    // Handed to the blocked case a, which then rejects it.
    tx_a.try_send(11).unwrap();
    assert!(poll_once(fut.as_mut(), &waker).is_pending());
    assert!(tx_a.try_send(10).is_err(), "case a is disabled");
    tx_b.try_send(1).unwrap();
    assert_eq!(woken.count(), 2);
    assert_eq!(poll_once(fut.as_mut(), &waker), Poll::Ready('b'));
}

/// The value a racing sender offers: the receiver's patterns take `Keep`
/// and reject `Skip`.
enum Item {
    Keep(u32),
    Skip(#[allow(dead_code)] Counted),
}

#[test]
fn refutable_patterns_keep_exactly_once_under_races() {
    // Thread A selects over two sends of each value on unbuffered channels;
    // this thread selects over two receives whose patterns reject every
    // other value. Every value is consumed exactly once: kept ones arrive
    // in order, rejected ones are dropped exactly once, none is left over.
    const ROUNDS: u32 = if cfg!(miri) { 20 } else { 20_000 };
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx1, rx1) = chan::<Item>(0);
    let (tx2, rx2) = chan::<Item>(0);
    let sender_drops = drops.clone();
    let a = thread::spawn(move || {
        block_on(async {
            for i in 0..ROUNDS {
                let item = || {
                    if i % 2 == 0 {
                        Item::Keep(i)
                    } else {
                        Item::Skip(Counted::new(u64::from(i), &sender_drops))
                    }
                };
                let (first, second) = (item(), item());
                select! {
                    r = tx1.send(first) => assert!(r.is_ok()),
                    r = tx2.send(second) => assert!(r.is_ok()),
                }
            }
        })
    });
    let mut kept = Vec::new();
    block_on(async {
        loop {
            select! {
                Some(Item::Keep(v)) = rx1.recv() => kept.push(v),
                Some(Item::Keep(v)) = rx2.recv() => kept.push(v),
                else => break,
            }
        }
    });
    a.join().unwrap();
    assert_eq!(kept, (0..ROUNDS).step_by(2).collect::<Vec<_>>());
    // Each odd round built two `Skip`s: the unsent one is dropped with its
    // case, the sent one by the receiver's rejecting pattern.
    assert_eq!(drops.load(Ordering::SeqCst), ROUNDS as usize);
}

#[test]
fn mut_bindings_in_refutable_patterns() {
    let (tx, rx) = chan::<String>(1);
    tx.try_send("a".to_string()).unwrap();
    let got = block_on(async {
        select! {
            Some(mut s) = rx.recv() => {
                s.push('!');
                s
            }
            Ok(mut s) = std::future::ready(Err::<String, ()>(())) => {
                s.push('?');
                s
            }
        }
    });
    assert_eq!(got, "a!");
}

#[test]
fn tokio_forms_parse_and_select_is_an_expression() {
    let (tx, rx) = chan::<u32>(8);
    for v in 0..4 {
        tx.try_send(v).unwrap();
    }
    drop(tx);
    block_on(async {
        // `&mut` of a pinned future, reused across selects in a loop.
        let mut never = pin!(std::future::pending::<()>());
        let mut count = 0u8;
        let mut sum = 0;
        loop {
            let step = select! {
                biased;
                _ = &mut never, if count < 4 => unreachable!(),
                Some(v) = rx.recv(), if count < 3 => { sum += v; "recv" },
                v = async { count }, if count == 3 => {
                    count += 1;
                    if v == 3 { "async" } else { "?" }
                }
                _ = async {}, if count < 3 => unreachable!("biased: recv is first"),
                else => break,
            };
            if step == "recv" {
                count += 1;
            }
        }
        assert_eq!((count, sum), (4, 3));
        // Expression bodies with and without a trailing comma, as the last
        // branch.
        let x = select! { v = async { 1 } => v + 1 };
        let y = select! { v = async { 2 } => v, };
        let z = select! { v = async { 3 } => { v } };
        let w = select! { v = async { 4 } => { v }, };
        assert_eq!((x, y, z, w), (2, 2, 3, 4));
        // Or-patterns.
        let o = select! { Some(1 | 2) | None = async { Some(2) } => "small", else => "big" };
        assert_eq!(o, "small");
    });
}

#[test]
fn sixty_four_cases_with_guards_and_refutable_patterns() {
    // Every channel is closed except the last, which holds one value: the
    // enabled closed ones are rejected one by one, the guarded-off ones are
    // never polled, and the last case wins.
    let mut tx_last = None;
    let rx: Vec<Receiver<u32>> = (0..64)
        .map(|i| {
            let (tx, rx) = chan(1);
            if i == 63 {
                tx.try_send(63).unwrap();
                tx_last = Some(tx);
            }
            rx
        })
        .collect();
    for first in [0usize, 32, 63] {
        let on = |i: usize| i >= first;
        let got = block_on(async {
            select! {
                Some(v) = rx[0].recv(), if on(0) => (v, 0),
                Some(v) = rx[1].recv(), if on(1) => (v, 1),
                Some(v) = rx[2].recv(), if on(2) => (v, 2),
                Some(v) = rx[3].recv(), if on(3) => (v, 3),
                Some(v) = rx[4].recv(), if on(4) => (v, 4),
                Some(v) = rx[5].recv(), if on(5) => (v, 5),
                Some(v) = rx[6].recv(), if on(6) => (v, 6),
                Some(v) = rx[7].recv(), if on(7) => (v, 7),
                Some(v) = rx[8].recv(), if on(8) => (v, 8),
                Some(v) = rx[9].recv(), if on(9) => (v, 9),
                Some(v) = rx[10].recv(), if on(10) => (v, 10),
                Some(v) = rx[11].recv(), if on(11) => (v, 11),
                Some(v) = rx[12].recv(), if on(12) => (v, 12),
                Some(v) = rx[13].recv(), if on(13) => (v, 13),
                Some(v) = rx[14].recv(), if on(14) => (v, 14),
                Some(v) = rx[15].recv(), if on(15) => (v, 15),
                Some(v) = rx[16].recv(), if on(16) => (v, 16),
                Some(v) = rx[17].recv(), if on(17) => (v, 17),
                Some(v) = rx[18].recv(), if on(18) => (v, 18),
                Some(v) = rx[19].recv(), if on(19) => (v, 19),
                Some(v) = rx[20].recv(), if on(20) => (v, 20),
                Some(v) = rx[21].recv(), if on(21) => (v, 21),
                Some(v) = rx[22].recv(), if on(22) => (v, 22),
                Some(v) = rx[23].recv(), if on(23) => (v, 23),
                Some(v) = rx[24].recv(), if on(24) => (v, 24),
                Some(v) = rx[25].recv(), if on(25) => (v, 25),
                Some(v) = rx[26].recv(), if on(26) => (v, 26),
                Some(v) = rx[27].recv(), if on(27) => (v, 27),
                Some(v) = rx[28].recv(), if on(28) => (v, 28),
                Some(v) = rx[29].recv(), if on(29) => (v, 29),
                Some(v) = rx[30].recv(), if on(30) => (v, 30),
                Some(v) = rx[31].recv(), if on(31) => (v, 31),
                Some(v) = rx[32].recv(), if on(32) => (v, 32),
                Some(v) = rx[33].recv(), if on(33) => (v, 33),
                Some(v) = rx[34].recv(), if on(34) => (v, 34),
                Some(v) = rx[35].recv(), if on(35) => (v, 35),
                Some(v) = rx[36].recv(), if on(36) => (v, 36),
                Some(v) = rx[37].recv(), if on(37) => (v, 37),
                Some(v) = rx[38].recv(), if on(38) => (v, 38),
                Some(v) = rx[39].recv(), if on(39) => (v, 39),
                Some(v) = rx[40].recv(), if on(40) => (v, 40),
                Some(v) = rx[41].recv(), if on(41) => (v, 41),
                Some(v) = rx[42].recv(), if on(42) => (v, 42),
                Some(v) = rx[43].recv(), if on(43) => (v, 43),
                Some(v) = rx[44].recv(), if on(44) => (v, 44),
                Some(v) = rx[45].recv(), if on(45) => (v, 45),
                Some(v) = rx[46].recv(), if on(46) => (v, 46),
                Some(v) = rx[47].recv(), if on(47) => (v, 47),
                Some(v) = rx[48].recv(), if on(48) => (v, 48),
                Some(v) = rx[49].recv(), if on(49) => (v, 49),
                Some(v) = rx[50].recv(), if on(50) => (v, 50),
                Some(v) = rx[51].recv(), if on(51) => (v, 51),
                Some(v) = rx[52].recv(), if on(52) => (v, 52),
                Some(v) = rx[53].recv(), if on(53) => (v, 53),
                Some(v) = rx[54].recv(), if on(54) => (v, 54),
                Some(v) = rx[55].recv(), if on(55) => (v, 55),
                Some(v) = rx[56].recv(), if on(56) => (v, 56),
                Some(v) = rx[57].recv(), if on(57) => (v, 57),
                Some(v) = rx[58].recv(), if on(58) => (v, 58),
                Some(v) = rx[59].recv(), if on(59) => (v, 59),
                Some(v) = rx[60].recv(), if on(60) => (v, 60),
                Some(v) = rx[61].recv(), if on(61) => (v, 61),
                Some(v) = rx[62].recv(), if on(62) => (v, 62),
                Some(v) = rx[63].recv(), if on(63) => (v, 63),
            }
        });
        assert_eq!(got, (63, 63));
        tx_last.as_ref().unwrap().try_send(63).unwrap();
    }
}
