//! The `select!` macro: Go's `select` statement.
//!
//! The macro is a tt-muncher that normalises the cases into one list of
//! `(index, future ident, output ident, pattern, future, body)` and a
//! `default` body, then expands that list once (`__select_expand!`). The
//! normalised form is where tokio's syntax (issue 12: `biased;`,
//! `pat = fut, if cond =>`, `else =>`, refutable patterns) plugs in: each is
//! one more munch rule plus a flag in the list, without touching the
//! expansion's commit logic.

/// Waits on several channel operations and futures at once; runs the body
/// of exactly one of them. Go's `select` statement.
///
/// ```text
/// gort::select! {
///     v = rx.recv() => { ... }       // v: Option<T>; None when rx is closed
///     r = tx.send(x) => { ... }      // r: Result<(), SendError<T>>
///     _ = some_future => { ... }     // any future: sleep, JoinHandle, ...
///     default => { ... }             // optional: never block
/// }
/// ```
///
/// - If several cases are ready, one is chosen uniformly at random.
/// - With `default`, a select whose cases are not ready runs `default`
///   without blocking (and registers nothing on any channel).
/// - Exactly one case commits. A losing receive takes no value; a losing
///   send delivers nothing (its value is dropped with the case, as Go
///   evaluates `x` on entry either way); this holds even when several
///   channels become ready at the same instant on other threads.
/// - `select! {}` never completes (Go's `select {}`), with wait reason
///   "select (no cases)".
/// - A body may `break`, `continue`, `return` or use `?`: bodies run in the
///   enclosing function after the select has finished, with every other
///   case already cancelled.
/// - Patterns must be irrefutable for now (`v`, `_`, `(a, b)`).
/// - At most 64 cases. Must be used inside `async` code.
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
