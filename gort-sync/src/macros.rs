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
    ($($tokens:tt)*) => {
        $crate::__select_munch!(@idx [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63] @cases [] @default [] $($tokens)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_munch {
    // All input consumed: expand the normalised list.
    (@idx $idx:tt @cases $cases:tt @default $default:tt) => {
        $crate::__select_expand!(@cases $cases @default $default)
    };

    // `default => body` (at most once).
    (@idx $idx:tt @cases $cases:tt @default [] default => $body:block , $($rest:tt)*) => {
        $crate::__select_munch!(@idx $idx @cases $cases @default [$body] $($rest)*)
    };
    (@idx $idx:tt @cases $cases:tt @default [] default => $body:block $($rest:tt)*) => {
        $crate::__select_munch!(@idx $idx @cases $cases @default [$body] $($rest)*)
    };
    (@idx $idx:tt @cases $cases:tt @default [] default => $body:expr , $($rest:tt)*) => {
        $crate::__select_munch!(@idx $idx @cases $cases @default [{ $body }] $($rest)*)
    };
    (@idx $idx:tt @cases $cases:tt @default [] default => $body:expr) => {
        $crate::__select_munch!(@idx $idx @cases $cases @default [{ $body }])
    };
    (@idx $idx:tt @cases $cases:tt @default [$($d:tt)+] default => $($rest:tt)*) => {
        ::core::compile_error!("select! has more than one `default` case")
    };

    // `pattern = future => body`. Each step names its own `__fut`/`__out`
    // locals; macro hygiene keeps the ones of different steps apart.
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt
        $p:pat = $f:expr => $body:block , $($rest:tt)*) => {
        $crate::__select_munch!(@idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $p, $f, $body)] @default $default $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt
        $p:pat = $f:expr => $body:block $($rest:tt)*) => {
        $crate::__select_munch!(@idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $p, $f, $body)] @default $default $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt
        $p:pat = $f:expr => $body:expr , $($rest:tt)*) => {
        $crate::__select_munch!(@idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $p, $f, { $body })] @default $default $($rest)*)
    };
    (@idx [$i:tt $($idx:tt)*] @cases [$($cases:tt)*] @default $default:tt
        $p:pat = $f:expr => $body:expr) => {
        $crate::__select_munch!(@idx [$($idx)*]
            @cases [$($cases)* ($i, __fut, __out, $p, $f, { $body })] @default $default)
    };
    (@idx [] @cases $cases:tt @default $default:tt $($rest:tt)+) => {
        ::core::compile_error!("select! supports at most 64 cases")
    };
    (@idx $idx:tt @cases $cases:tt @default $default:tt $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `pattern = future => body` or `default => body`, found `",
            ::core::stringify!($($rest)+), "`"
        ))
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_expand {
    (@cases [$( ($i:tt, $fut:ident, $out:ident, $p:pat, $f:expr, $body:block) )*]
     @default [$($default:block)?]) => {{
        #[allow(unused_imports)]
        use $crate::__private::{AnyCase as _, ChanCase as _};
        $( let mut $out = ::core::option::Option::None; )*
        let __which: ::core::option::Option<usize> = {
            let mut __select = $crate::__private::Select::new(
                0usize $( + { let _ = $i; 1usize } )*,
                false $( || { let _ = ::core::stringify!($default); true } )?,
            );
            $(
                let __wrap = $crate::__private::Wrap::new($f);
                let mut $fut = ::core::pin::pin!((&__wrap).__gort_into_case());
            )*
            ::core::future::poll_fn(|__cx| {
                __select.poll(__cx, |__case, __cx, __ctx| match __case {
                    $(
                        $i => match $crate::__private::SelectCase::poll_case($fut.as_mut(), __cx, __ctx) {
                            ::core::task::Poll::Ready(__v) => {
                                $out = ::core::option::Option::Some(__v);
                                ::core::task::Poll::Ready(())
                            }
                            ::core::task::Poll::Pending => ::core::task::Poll::Pending,
                        },
                    )*
                    _ => ::core::unreachable!("select! polled a case it does not have"),
                })
            })
            .await
        };
        match __which {
            $(
                ::core::option::Option::Some($i) => {
                    let $p = match $out {
                        ::core::option::Option::Some(__v) => __v,
                        ::core::option::Option::None => ::core::unreachable!("select! case chosen without output"),
                    };
                    $body
                }
            )*
            ::core::option::Option::None => $crate::__select_default!($($default)?),
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
