//! `select!`: Go's `selectgo` (runtime/select.go) for futures.
//!
//! The macro ([`select!`](crate::select!)) turns its cases into futures and
//! drives them through [`Select::poll`], which does what `selectgo` does:
//!
//! 1. Charge one unit of the cooperative budget for the whole select (one
//!    select is one operation, like one `selectgo` call; charging per case
//!    would let an exhausted budget masquerade as "no case ready" and take
//!    `default` wrongly).
//! 2. If a peer already committed one of our cases while we were parked
//!    (a sender handed a value to our receive case, a receiver took our send
//!    case's value, or the channel closed), finish that case.
//! 3. Otherwise poll the enabled cases in a fresh uniformly random order
//!    (Go's `pollorder`, a Fisher–Yates shuffle with a per-thread wyrand;
//!    source order under tokio's `biased;`) and commit the first that can
//!    complete, registering nothing (Go's pass 1).
//! 4. With `default` and nothing ready, take `default`. Otherwise go over
//!    the channel cases again, in the same order, registering a waiter
//!    carrying this select's [`token::SelectToken`] on each (Go's pass 2,
//!    enqueueing a `sudog` with `isSelect`); a case that became ready in
//!    between commits instead. Then park with wait reason "select".
//!
//! tokio's additions: a case may be *disabled* — by a false `if` guard
//! before the first poll, or when it commits with an output its pattern
//! rejects. Disabled cases are never polled. A rejection happens after the
//! case won the token, so that token is spent: the select withdraws every
//! waiter registered under it ([`SelectCase::withdraw`]), drops it and
//! goes back to step 3 with a fresh one, within the same poll. When every
//! case is disabled the select ends with [`Outcome::Disabled`] (tokio's
//! `else`).
//!
//! A select that finds a ready case in pass 1 — the common case under load
//! — therefore registers nothing it would have to take down again, and
//! never allocates: the token lives on the stack until pass 2 first
//! registers a waiter, which is when peers can first see it.
//!
//! ## Invariants
//! - Exactly one case commits: every commit, by us or by a peer on another
//!   thread, first wins the token (see [`token`]). Losing cases have
//!   completed nothing; their waiters are removed when the select's case
//!   futures are dropped, which the macro does before running the chosen
//!   body (Go's pass 3, dequeueing the other `sudog`s).
//! - A send case's value is delivered only if that case commits. If another
//!   case commits, the value is dropped with the case future (Go evaluates
//!   every send expression on entry to `select` too).
//! - Arbitrary futures (`sleep`, `JoinHandle`, ...) are polled normally and
//!   commit by becoming ready — but they too must win the token, so if a
//!   channel case was committed by a peer in the same instant the channel
//!   case is the one chosen and the arbitrary future's output is dropped, as
//!   if the future had been cancelled a moment earlier. That is harmless for
//!   `sleep` or a `JoinHandle` (dropping one detaches the task), but a future
//!   that took a value from elsewhere — `async { rx.recv().await }`,
//!   `rx.next()` — loses that value. Only channel operations written
//!   directly as cases (`rx.recv()`, `tx.send(v)`) are exactly-once.
//!
//! ## Departures from Go
//! - Go locks every channel of the select at once (in address order) while it
//!   looks for a ready case. gort polls channels one at a time, so a select
//!   may have to win its own token, and two blocked selects meeting on one
//!   channel win both tokens together ([`token::try_win_pair`]).
//! - Up to 64 cases (tokio's limit too); Go has none.
//! - Guards, refutable patterns, `biased;` and `else` are tokio's, not Go's
//!   (Go has nil channels for the first and nothing for the others).

pub(crate) mod token;

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use gort_core::coop::poll_proceed;
use gort_core::wait::{set_wait_reason, WaitReason};

use crate::primitives::Arc;
use crate::rand;
use token::{SelectRef, SelectToken};

/// The most cases one `select!` may have.
pub const MAX_CASES: usize = 64;

/// What a case future is told when the select polls it.
#[doc(hidden)]
#[derive(Debug)]
pub struct SelectCtx<'a> {
    /// The select's token: on the stack until a waiter is first
    /// registered, then the shared one.
    pub(crate) token: &'a SelectToken,
    /// The shared token, in pass 2 and once waiters exist (waiters hold a
    /// reference to it).
    pub(crate) shared: Option<&'a Arc<SelectToken>>,
    pub(crate) case: usize,
    /// Pass 2: a channel case that cannot complete registers a waiter. In
    /// pass 1 (and always with `default`) nothing is registered.
    pub(crate) register: bool,
    /// The select is withdrawing its waiters (see [`Select::poll`]): the
    /// macro calls [`SelectCase::withdraw`] instead of polling.
    pub(crate) withdraw: bool,
}

impl SelectCtx<'_> {
    /// Whether the case is to be withdrawn rather than polled.
    pub fn withdrawing(&self) -> bool {
        self.withdraw
    }

    /// Commits this case.
    pub(crate) fn win(&self) -> bool {
        self.token.try_win(self.case)
    }

    pub(crate) fn to_ref(&self) -> SelectRef {
        SelectRef {
            token: self
                .shared
                .expect("select registers waiters only in pass 2")
                .clone(),
            case: self.case,
        }
    }
}

/// A future that can be a `select!` case.
///
/// Channel operations implement it two-phase (they commit only by winning
/// the select's token); any other future is wrapped in [`FutureCase`].
#[doc(hidden)]
pub trait SelectCase {
    /// What the case yields when chosen.
    type Output;

    /// Polls the case as case `ctx.case` of the select owning `ctx.token`.
    fn poll_case(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        ctx: &SelectCtx<'_>,
    ) -> Poll<Self::Output>;

    /// Takes down the waiters this case registered (pass 2), and takes back
    /// what they hold (a send's value), so that the case can be polled
    /// afresh under a new token. Called when another case of the select
    /// completed with an output its pattern rejected: the token that case
    /// won stays decided, so these waiters can never commit. A case that
    /// registers nothing under the token (any [`FutureCase`]) keeps this
    /// default; one that does must override it.
    fn withdraw(self: Pin<&mut Self>) {}
}

/// An arbitrary future as a select case: it commits when it is ready and
/// wins the select's token.
#[doc(hidden)]
#[derive(Debug)]
pub struct FutureCase<F> {
    fut: F,
}

impl<F: Future> SelectCase for FutureCase<F> {
    type Output = F::Output;

    fn poll_case(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        ctx: &SelectCtx<'_>,
    ) -> Poll<F::Output> {
        // Polled once per select poll, in pass 1 (it registered its own
        // waker then); pass 2 only registers channel waiters.
        if ctx.register || ctx.token.decided().is_some() {
            return Poll::Pending;
        }
        // SAFETY: `fut` is structurally pinned: `FutureCase` never moves it
        // out, has no `Drop` impl and is `!Unpin` whenever `F` is.
        let fut = unsafe { self.map_unchecked_mut(|c| &mut c.fut) };
        match fut.poll(cx) {
            Poll::Ready(v) if ctx.win() => Poll::Ready(v),
            Poll::Ready(_) | Poll::Pending => Poll::Pending,
        }
    }
}

/// How a [`Select`] ended.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Case `i` committed and its output matched the case's pattern.
    Case(usize),
    /// No enabled case was ready and the select has `default`.
    Default,
    /// Every case is disabled (by its `if` guard, or because its output did
    /// not match its pattern): tokio's `else`.
    Disabled,
}

/// One attempt of [`Select::poll`] under the current token.
enum Step {
    Chosen(Outcome),
    /// Case `i` completed (and won the token) but its pattern rejected the
    /// output.
    Rejected(usize),
    Pending,
}

/// The per-invocation state of one `select!`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Select {
    /// Allocated when pass 2 first registers a waiter; until then each
    /// poll's pass 1 uses a fresh token on the stack, which nobody else can
    /// see (so it is as undecided as this one would be). Replaced by a fresh
    /// one when a case's pattern rejects its output (see [`Select::poll`]).
    token: Option<Arc<SelectToken>>,
    cases: usize,
    has_default: bool,
    has_else: bool,
    /// `biased;`: poll the cases in source order instead of a random one.
    biased: bool,
    /// Bit `i` set: case `i` is disabled for the rest of this select — its
    /// `if` guard was false, or it completed with an output its pattern
    /// rejected. A disabled case is never polled again.
    disabled: u64,
}

impl Select {
    /// A select over `cases` cases, with or without `default`.
    pub fn new(cases: usize, has_default: bool) -> Self {
        assert!(
            cases <= MAX_CASES,
            "select! supports at most {MAX_CASES} cases"
        );
        Select {
            token: None,
            cases,
            has_default,
            has_else: false,
            biased: false,
            disabled: 0,
        }
    }

    /// With tokio's `else`: a select whose cases are all disabled ends with
    /// [`Outcome::Disabled`] (also when it has no case at all).
    pub fn with_else(mut self, has_else: bool) -> Self {
        self.has_else = has_else;
        self
    }

    /// tokio's `biased;`: among ready cases, the first in source order wins.
    pub fn biased(mut self, biased: bool) -> Self {
        self.biased = biased;
        self
    }

    /// Disables case `case` (its `if` guard is false): it is never polled.
    pub fn disable(&mut self, case: usize) {
        self.disabled |= 1 << case;
    }

    fn is_enabled(&self, case: usize) -> bool {
        self.disabled & (1 << case) == 0
    }

    fn all_disabled(&self) -> bool {
        (self.cases > 0 || self.has_else) && (0..self.cases).all(|i| !self.is_enabled(i))
    }

    /// Polls the select: `Ready(Outcome::Case(i))` when case `i` committed
    /// (its output was stored by `poll_case`), `Ready(Outcome::Default)` for
    /// `default`, `Ready(Outcome::Disabled)` when every case is disabled.
    ///
    /// `poll_case(i, cx, ctx)` polls case `i` and returns `Ready(true)` iff
    /// it committed with an output its pattern accepts, `Ready(false)` if it
    /// committed (won the token, took its value) but the pattern rejected the
    /// output. When `ctx.withdrawing()`, it must instead call
    /// [`SelectCase::withdraw`] on case `i` and return `Pending`.
    ///
    /// A rejected case is disabled and the select goes on within the same
    /// poll (tokio's rule). The token that case won is decided and stays so:
    /// every waiter registered under it is dead to peers (they skip it, as
    /// for any select that committed), so the select withdraws its
    /// remaining waiters and starts over with a fresh token.
    pub fn poll<F>(&mut self, cx: &mut Context<'_>, mut poll_case: F) -> Poll<Outcome>
    where
        F: FnMut(usize, &mut Context<'_>, &SelectCtx<'_>) -> Poll<bool>,
    {
        if self.all_disabled() {
            return Poll::Ready(Outcome::Disabled);
        }
        if self.cases == 0 && !self.has_default {
            set_wait_reason(WaitReason::SelectNoCases);
            return Poll::Pending;
        }
        let coop = ready!(poll_proceed(cx));
        let mut progressed = false;
        let outcome = loop {
            match self.attempt(cx, &mut poll_case) {
                Step::Chosen(outcome) => break Some(outcome),
                Step::Pending => break None,
                Step::Rejected(case) => {
                    progressed = true;
                    self.disable(case);
                    self.withdraw(cx, &mut poll_case);
                    if self.all_disabled() {
                        break Some(Outcome::Disabled);
                    }
                }
            }
        };
        if outcome.is_some() || progressed {
            coop.made_progress();
        }
        match outcome {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                set_wait_reason(WaitReason::Select);
                Poll::Pending
            }
        }
    }

    /// One attempt at committing a case under the current token: Go's
    /// passes 1 and 2 over the enabled cases.
    fn attempt<F>(&mut self, cx: &mut Context<'_>, poll_case: &mut F) -> Step
    where
        F: FnMut(usize, &mut Context<'_>, &SelectCtx<'_>) -> Poll<bool>,
    {
        let local = SelectToken::new();
        let decided = self.token.as_deref().and_then(SelectToken::decided);
        if decided.is_none() {
            let mut order = [0u8; MAX_CASES];
            let mut enabled = 0;
            for i in (0..self.cases).filter(|&i| self.is_enabled(i)) {
                order[enabled] = i as u8;
                enabled += 1;
            }
            let order = &mut order[..enabled];
            if !self.biased {
                rand::shuffle(order);
            }
            let passes: &[bool] = if self.has_default {
                &[false]
            } else {
                &[false, true]
            };
            for &register in passes {
                if register && self.token.is_none() {
                    self.token = Some(Arc::new(SelectToken::new()));
                }
                let token = self.token.as_deref().unwrap_or(&local);
                for &i in order.iter() {
                    let ctx = SelectCtx {
                        token,
                        shared: self.token.as_ref(),
                        case: usize::from(i),
                        register,
                        withdraw: false,
                    };
                    match poll_case(ctx.case, cx, &ctx) {
                        Poll::Ready(true) => return Step::Chosen(Outcome::Case(ctx.case)),
                        Poll::Ready(false) => return Step::Rejected(ctx.case),
                        Poll::Pending => {}
                    }
                    if token.decided().is_some() {
                        break;
                    }
                }
                if token.decided().is_some() {
                    break;
                }
            }
        }
        if let Some(shared) = &self.token {
            if let Some(case) = shared.decided() {
                // A peer committed `case` (the select's own commits return
                // above): the channel finished the operation under its lock
                // before we could see the token, so the case is ready now.
                let ctx = SelectCtx {
                    token: shared,
                    shared: Some(shared),
                    case,
                    register: false,
                    withdraw: false,
                };
                return match poll_case(case, cx, &ctx) {
                    Poll::Ready(true) => Step::Chosen(Outcome::Case(case)),
                    Poll::Ready(false) => Step::Rejected(case),
                    Poll::Pending => {
                        debug_assert!(false, "select case {case} committed but not ready");
                        Step::Pending
                    }
                };
            }
        }
        if self.has_default {
            return Step::Chosen(Outcome::Default);
        }
        Step::Pending
    }

    /// After a rejection: takes down every waiter registered under the
    /// (now decided) shared token and drops it, so the next attempt
    /// registers afresh under a new one. Without a shared token nothing was
    /// registered.
    fn withdraw<F>(&mut self, cx: &mut Context<'_>, poll_case: &mut F)
    where
        F: FnMut(usize, &mut Context<'_>, &SelectCtx<'_>) -> Poll<bool>,
    {
        let Some(old) = self.token.take() else {
            return;
        };
        debug_assert!(old.decided().is_some(), "withdrawing under a live token");
        for case in (0..self.cases).filter(|&i| self.is_enabled(i)) {
            let ctx = SelectCtx {
                token: &old,
                shared: Some(&old),
                case,
                register: false,
                withdraw: true,
            };
            let _ = poll_case(case, cx, &ctx);
        }
    }
}

/// Holds a case expression's value until the macro picks how to poll it.
///
/// `(&Wrap::new(x)).__gort_into_case()` resolves to [`ChanCase`] when `x` is
/// a channel operation and to [`AnyCase`] otherwise (autoref-based
/// specialisation: the `ChanCase` impls match one reference level earlier).
#[doc(hidden)]
pub struct Wrap<F>(std::cell::Cell<Option<F>>);

impl<F> std::fmt::Debug for Wrap<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wrap(..)")
    }
}

impl<F> Wrap<F> {
    pub fn new(f: F) -> Self {
        Wrap(std::cell::Cell::new(Some(f)))
    }

    pub(crate) fn take(&self) -> F {
        self.0.take().expect("select! case taken twice")
    }
}

/// Case conversion for channel operations (see [`Wrap`]).
#[doc(hidden)]
pub trait ChanCase {
    type Case;
    fn __gort_into_case(&self) -> Self::Case;
}

/// Case conversion for any other future (see [`Wrap`]).
#[doc(hidden)]
pub trait AnyCase {
    type Case;
    fn __gort_into_case(&self) -> Self::Case;
}

impl<F: IntoFuture> AnyCase for &Wrap<F> {
    type Case = FutureCase<F::IntoFuture>;

    fn __gort_into_case(&self) -> Self::Case {
        FutureCase {
            fut: self.take().into_future(),
        }
    }
}

/// `select! {}`: parks forever (Go's `select {}`).
#[doc(hidden)]
#[derive(Debug)]
pub struct NoCases;

impl Future for NoCases {
    type Output = std::convert::Infallible;

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        set_wait_reason(WaitReason::SelectNoCases);
        Poll::Pending
    }
}
