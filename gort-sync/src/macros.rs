//! The `select!` macro: Go's `select` statement, with tokio's syntax.
//!
//! The macro is a tt-muncher that normalises the cases into one list of
//! `(index, future ident, output ident, pattern, check pattern, future,
//! [guard], body)` plus the `default` and `else` bodies and the `biased;`
//! flag, then expands that list once (`__select_expand!`). The expansion
//! evaluates the guards, then the case expressions, and drives them through
//! [`Select::poll`](crate::__private::Select::poll); a case's pattern is
//! checked inside that poll, the moment the case commits, so a rejected
//! output disables the case and the select goes on (tokio's rule) without
//! ever leaving the poll. Bodies run afterwards, in the enclosing function.
//!
//! Munch rules are one step per case (64 cases stay well inside the default
//! recursion limit): each body form (block or expression, with or without a
//! trailing comma) is its own rule, with the guard optional inside it.

/// Waits on several channel operations and futures at once; runs the body
/// of exactly one of them. Go's `select` statement, accepting tokio's
/// `select!` syntax too.
///
/// ```text
/// gort::select! {
///     biased;                          // optional, first: source order
///     v = rx.recv() => { ... }         // v: Option<T>; None when rx is closed
///     r = tx.send(x) => { ... }        // r: Result<(), SendError<T>>
///     _ = some_future => { ... }       // any future: sleep, JoinHandle, &mut fut, async {}
///     Some(v) = rx2.recv() => { ... }  // refutable: None disables the case
///     v = fut, if cond => { ... }      // guard: false disables the case
///     default => { ... }               // Go: no enabled case is ready now
///     else => { ... }                  // tokio: every case is disabled
/// }
/// ```
///
/// # Choosing a case
///
/// - If several cases are ready, one is chosen uniformly at random (Go's
///   spec). With `biased;` as the first token, the first ready case in
///   source order is chosen instead (tokio's `biased;`); the caller then
///   owns fairness.
/// - With `default`, a select whose enabled cases are not ready runs
///   `default` without blocking (and registers nothing on any channel).
/// - Exactly one case commits. A losing receive takes no value; a losing
///   send delivers nothing (its value is dropped with the case, as Go
///   evaluates `x` on entry either way); this holds even when several
///   channels become ready at the same instant on other threads.
/// - `select! {}` never completes (Go's `select {}`), with wait reason
///   "select (no cases)".
/// - A body may `break`, `continue`, `return` or use `?`: bodies run in the
///   enclosing function after the select has finished, with every other
///   case already cancelled. The select is an expression: its value is the
///   body's.
/// - At most 64 cases. Must be used inside `async` code.
///
/// # Guards, patterns and `else` (tokio's rules)
///
/// - `pattern = future, if guard => body`: every guard is evaluated first,
///   in source order, then every case expression. A case whose guard is
///   false is *disabled*: its future is built (a send's value is evaluated
///   and dropped with it) but never polled.
/// - Patterns may be refutable (`Some(v)`, `Ok(x)`, `Msg::Data(d)`). When a
///   case completes, its output is matched against its pattern right there,
///   inside the select's poll. If it does not match, the case is disabled
///   for the rest of this select and the select goes on waiting on the
///   others. A rejected output is consumed: for a channel case, the value
///   it received has been taken from the channel (and is dropped), as
///   tokio's `rx.recv()` would have taken it; a receive of a closed,
///   drained channel yields `None` and consumes nothing. Exactly-once still
///   holds: a value is taken by at most one case, and a value that no
///   case's pattern accepts is taken by exactly the case that rejected it.
/// - The pattern is checked by reference, so a `mut` binding nested in it
///   cannot bind there. The form `Path(mut x)` (`Some(mut v)`,
///   `Ok(mut conn)`) is recognised and checked as `Path(_)`; other nested
///   `mut` or `ref` bindings (`(mut a, b)`) of non-`Copy` values do not
///   compile — bind without `mut` and rebind in the body.
/// - `else => body` runs when every case is disabled — by guards, or by
///   outputs their patterns rejected. It does not run while an enabled
///   case is pending: tokio's loop `loop { select! { Some(v) = rx1.recv() =>
///   .., Some(v) = rx2.recv() => .., else => break } }` drains both
///   channels and stops once both are closed.
/// - `else` is not `default`. Go's `default` means "no case is ready
///   *now*" and never blocks; tokio's `else` means "no case *can* complete"
///   and is reached only after waiting. Both may appear in one select: a
///   poll with no ready enabled case runs `default`, a select whose cases
///   are all disabled runs `else`. Without `else`, all cases disabled runs
///   `default` (a disabled case is like a nil channel in Go: never ready).
///
/// # Panics
///
/// When every case is disabled and the select has neither `else` nor
/// `default`, with the message "select!: all branches are disabled and
/// there is no `else` branch" — tokio panics there too. It is a logic error
/// in the program, like reaching `unreachable!()`: the select could never
/// complete. (A select whose cases are merely never ready, such as nil
/// channels, waits instead, as Go's does.)
///
/// # Channel cases and other futures
///
/// Channel cases are `Receiver::recv()` and `Sender::send(x)` calls written
/// directly as the case expression; anything else is polled as an ordinary
/// future. Only channel cases are exactly-once: if another case commits in
/// the same instant an ordinary future completes, that future's output is
/// dropped. So write receives as `v = rx.recv()`, not wrapped in `async`
/// blocks or as `rx.next()`, whose value would be lost in that race.
///
/// # Examples
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// use gort_sync::{chan, select};
///
/// let (tx_a, rx_a) = chan::<&str>(1);
/// let (_tx_b, rx_b) = chan::<u32>(1);
/// tx_a.try_send("hello").unwrap();
/// let got = block_on(async {
///     select! {
///         v = rx_a.recv() => format!("a: {}", v.unwrap()),
///         v = rx_b.recv() => format!("b: {v:?}"),
///     }
/// });
/// assert_eq!(got, "a: hello");
///
/// // With `default`, nothing ready means no waiting.
/// let idle = block_on(async {
///     select! {
///         v = rx_b.recv() => Some(v),
///         default => None,
///     }
/// });
/// assert_eq!(idle, None);
/// ```
///
/// `biased;`: the first ready case in source order wins.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// use gort_sync::{chan, select};
///
/// let (tx, rx) = chan::<u32>(4);
/// tx.try_send(1).unwrap();
/// let first = block_on(async {
///     select! {
///         biased;
///         v = rx.recv() => v,
///         _ = std::future::ready(()) => None,
///     }
/// });
/// assert_eq!(first, Some(1));
/// ```
///
/// `if` guards and `else`: tokio's counting loop.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// use gort_sync::select;
///
/// let mut count = 0;
/// block_on(async {
///     loop {
///         select! {
///             biased;
///             _ = async {}, if count < 1 => count += 1,
///             _ = async {}, if count < 2 => count += 1,
///             else => break,
///         }
///     }
/// });
/// assert_eq!(count, 2);
/// ```
///
/// Refutable patterns: a closed channel's case is disabled, the select
/// goes on with the others, and `else` ends the loop once both are done.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// use gort_sync::{chan, select};
///
/// let (tx1, rx1) = chan::<u32>(4);
/// let (tx2, rx2) = chan::<u32>(4);
/// for i in 0..3 {
///     tx1.try_send(i).unwrap();
///     tx2.try_send(10 + i).unwrap();
/// }
/// drop((tx1, tx2));
/// let mut values = Vec::new();
/// block_on(async {
///     loop {
///         select! {
///             Some(v) = rx1.recv() => values.push(v),
///             Some(v) = rx2.recv() => values.push(v),
///             else => break,
///         }
///     }
/// });
/// values.sort();
/// assert_eq!(values, [0, 1, 2, 10, 11, 12]);
///
/// // An `Err` output rejected by an `Ok(_)` pattern disables its case.
/// let (tx3, rx3) = chan::<u32>(1);
/// tx3.try_send(5).unwrap();
/// let got = block_on(async {
///     select! {
///         Ok(x) = std::future::ready(Err::<u32, ()>(())) => x,
///         Some(v) = rx3.recv() => v,
///     }
/// });
/// assert_eq!(got, 5);
/// ```
///
/// `&mut` of a pinned future, kept across selects, and a select whose
/// value is used.
///
/// ```
/// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     let mut f = std::pin::pin!(f);
/// #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
/// # }
/// use gort_sync::{chan, select};
///
/// let (tx, rx) = chan::<u32>(2);
/// tx.try_send(1).unwrap();
/// let total = block_on(async {
///     let mut done = std::pin::pin!(std::future::pending::<()>());
///     let mut total = 0;
///     for _ in 0..2 {
///         total += select! {
///             _ = &mut done => 0,
///             Some(v) = rx.recv() => v,
///             default => 100,
///         };
///     }
///     total
/// });
/// assert_eq!(total, 101);
/// ```
#[macro_export]
macro_rules! select {
    () => {
        match $crate::__private::NoCases.await {}
    };
    (biased; $($tokens:tt)*) => {
        $crate::__select_munch!(@biased true @idx [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63] @cases [] @default [] @else [] $($tokens)*)
    };
    ($($tokens:tt)*) => {
        $crate::__select_munch!(@biased false @idx [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63] @cases [] @default [] @else [] $($tokens)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_munch {
    // All input consumed: expand the normalised list.
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default $default:tt @else $else:tt) => {
        $crate::__select_expand!(@biased $b @cases $cases @default $default @else $else)
    };

    // `default => body` (at most once).
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default [] @else $else:tt
        default => $body:block , $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx $idx @cases $cases @default [$body] @else $else $($rest)*)
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default [] @else $else:tt
        default => $body:block $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx $idx @cases $cases @default [$body] @else $else $($rest)*)
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default [] @else $else:tt
        default => $body:expr , $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx $idx @cases $cases @default [{ $body }] @else $else $($rest)*)
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default [] @else $else:tt
        default => $body:expr) => {
        $crate::__select_munch!(@biased $b @idx $idx @cases $cases @default [{ $body }] @else $else)
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default [$($d:tt)+] @else $else:tt
        default => $($rest:tt)*) => {
        ::core::compile_error!("select! has more than one `default` case")
    };

    // tokio's `else => body` (at most once).
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default $default:tt @else []
        else => $body:block , $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx $idx @cases $cases @default $default @else [$body] $($rest)*)
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default $default:tt @else []
        else => $body:block $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx $idx @cases $cases @default $default @else [$body] $($rest)*)
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default $default:tt @else []
        else => $body:expr , $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx $idx @cases $cases @default $default @else [{ $body }] $($rest)*)
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default $default:tt @else []
        else => $body:expr) => {
        $crate::__select_munch!(@biased $b @idx $idx @cases $cases @default $default @else [{ $body }])
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default $default:tt @else [$($e:tt)+]
        else => $($rest:tt)*) => {
        ::core::compile_error!("select! has more than one `else` branch")
    };

    // `pattern = future (, if guard)? => body`, normalised to
    // `(index, future ident, output ident, pattern, check pattern, future,
    // [guard], body)`. The check pattern is what the output is matched
    // against (by reference) when the case completes; it is the pattern
    // itself except for `Path(mut x)`, whose `mut` cannot bind through a
    // reference and which checks as `Path(_)`. Each step names its own
    // `__fut`/`__out` locals; macro hygiene keeps the ones of different
    // steps apart.
    (@biased $b:tt @idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt @else $else:tt
        $($seg:ident)::+ (mut $x:ident) = $f:expr $(, if $c:expr)? => $body:block , $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $($seg)::+ (mut $x), $($seg)::+ (_), $f, [$($c)?], $body)]
            @default $default @else $else $($rest)*)
    };
    (@biased $b:tt @idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt @else $else:tt
        $($seg:ident)::+ (mut $x:ident) = $f:expr $(, if $c:expr)? => $body:block $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $($seg)::+ (mut $x), $($seg)::+ (_), $f, [$($c)?], $body)]
            @default $default @else $else $($rest)*)
    };
    (@biased $b:tt @idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt @else $else:tt
        $($seg:ident)::+ (mut $x:ident) = $f:expr $(, if $c:expr)? => $body:expr , $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $($seg)::+ (mut $x), $($seg)::+ (_), $f, [$($c)?], { $body })]
            @default $default @else $else $($rest)*)
    };
    (@biased $b:tt @idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt @else $else:tt
        $($seg:ident)::+ (mut $x:ident) = $f:expr $(, if $c:expr)? => $body:expr) => {
        $crate::__select_munch!(@biased $b @idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $($seg)::+ (mut $x), $($seg)::+ (_), $f, [$($c)?], { $body })]
            @default $default @else $else)
    };
    (@biased $b:tt @idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt @else $else:tt
        $p:pat = $f:expr $(, if $c:expr)? => $body:block , $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $p, $p, $f, [$($c)?], $body)]
            @default $default @else $else $($rest)*)
    };
    (@biased $b:tt @idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt @else $else:tt
        $p:pat = $f:expr $(, if $c:expr)? => $body:block $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $p, $p, $f, [$($c)?], $body)]
            @default $default @else $else $($rest)*)
    };
    (@biased $b:tt @idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt @else $else:tt
        $p:pat = $f:expr $(, if $c:expr)? => $body:expr , $($rest:tt)*) => {
        $crate::__select_munch!(@biased $b @idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $p, $p, $f, [$($c)?], { $body })]
            @default $default @else $else $($rest)*)
    };
    (@biased $b:tt @idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt @else $else:tt
        $p:pat = $f:expr $(, if $c:expr)? => $body:expr) => {
        $crate::__select_munch!(@biased $b @idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $p, $p, $f, [$($c)?], { $body })]
            @default $default @else $else)
    };
    (@biased $b:tt @idx [] @cases $cases:tt @default $default:tt @else $else:tt $($rest:tt)+) => {
        ::core::compile_error!("select! supports at most 64 cases")
    };
    (@biased $b:tt @idx $idx:tt @cases $cases:tt @default $default:tt @else $else:tt $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `pattern = future => body`, `pattern = future, if guard => body`, ",
            "`default => body` or `else => body` (and `biased;` only first), found `",
            ::core::stringify!($($rest)+), "`"
        ))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_expand {
    (@biased $biased:tt
     @cases [$( ($i:tt, $fut:ident, $out:ident, $p:pat, $cp:pat, $f:expr, [$($c:expr)?], $body:block) )*]
     @default [$($default:block)?]
     @else [$($else:block)?]) => {{
        #[allow(unused_imports)]
        use $crate::__private::{AnyCase as _, ChanCase as _};
        $( let mut $out = ::core::option::Option::None; )*
        let __outcome: $crate::__private::Outcome = {
            let mut __select = $crate::__private::Select::new(
                0usize $( + { let _ = $i; 1usize } )*,
                false $( || { let _ = ::core::stringify!($default); true } )?,
            )
            .with_else(false $( || { let _ = ::core::stringify!($else); true } )?)
            .biased($biased);
            // tokio's order: every guard first, then every future
            // expression (a disabled case's too; it is never polled).
            $( $( if !$c { __select.disable($i); } )? )*
            $(
                let __wrap = $crate::__private::Wrap::new($f);
                let mut $fut = ::core::pin::pin!((&__wrap).__gort_into_case());
            )*
            ::core::future::poll_fn(|__cx| {
                __select.poll(__cx, |__case, __cx, __ctx| match __case {
                    $(
                        $i => if __ctx.withdrawing() {
                            $crate::__private::SelectCase::withdraw($fut.as_mut());
                            ::core::task::Poll::Pending
                        } else {
                            match $crate::__private::SelectCase::poll_case($fut.as_mut(), __cx, __ctx) {
                                ::core::task::Poll::Ready(__v) => {
                                    // The case committed: its pattern decides
                                    // here, inside the poll, whether the select
                                    // ends or goes on without it.
                                    #[allow(unused_variables, unused_mut, unreachable_patterns)]
                                    let __accepted = ::core::matches!(&__v, $cp);
                                    if __accepted {
                                        $out = ::core::option::Option::Some(__v);
                                    }
                                    ::core::task::Poll::Ready(__accepted)
                                }
                                ::core::task::Poll::Pending => ::core::task::Poll::Pending,
                            }
                        },
                    )*
                    _ => ::core::unreachable!("select! polled a case it does not have"),
                })
            })
            .await
        };
        match __outcome {
            $(
                $crate::__private::Outcome::Case($i) => match $out {
                    ::core::option::Option::Some($p) => $body,
                    _ => ::core::unreachable!("select! case chosen without a matching output"),
                },
            )*
            $crate::__private::Outcome::Default => $crate::__select_default!($($default)?),
            $crate::__private::Outcome::Disabled => {
                $crate::__select_disabled!(@else [$($else)?] @default [$($default)?])
            }
            #[allow(unreachable_patterns)]
            _ => ::core::unreachable!("select! chose a case it does not have"),
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_default {
    () => {
        ::core::unreachable!("select! without default took default")
    };
    ($default:block) => {
        $default
    };
}

/// Every case is disabled: `else`, else `default` (a disabled case is like
/// a nil channel in Go: never ready), else a panic, as in tokio.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_disabled {
    (@else [$else:block] @default $default:tt) => {
        $else
    };
    (@else [] @default [$default:block]) => {
        $default
    };
    (@else [] @default []) => {
        ::core::panic!("select!: all branches are disabled and there is no `else` branch")
    };
}
