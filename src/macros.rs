//! tokio's `pin!`, `join!` and `try_join!`, for code that ports by
//! changing `tokio::` to `gort::`.

/// Pins values on the stack, shadowing the bindings (tokio's `pin!`).
///
/// ```
/// # gort::runtime::Runtime::new().unwrap().block_on(async {
/// let fut = async { 1 };
/// gort::pin!(fut);
/// assert_eq!((&mut fut).await, 1);
/// gort::pin! { let other = async { 2 }; }
/// assert_eq!(other.await, 2);
/// # });
/// ```
#[macro_export]
macro_rules! pin {
    ($($x:ident),* $(,)?) => { $(
        // Move the value into this stack slot, so it cannot be moved again.
        let mut $x = $x;
        // SAFETY: the original binding is shadowed just below, so the value
        // can no longer be moved out of this slot before it is dropped.
        #[allow(unused_mut)]
        let mut $x = unsafe { ::core::pin::Pin::new_unchecked(&mut $x) };
    )* };
    ($(let $x:ident = $init:expr;)*) => { $(
        let $x = $init;
        $crate::pin!($x);
    )* };
}

/// Waits on several futures at once and returns all their outputs
/// (tokio's `join!`). The futures run concurrently in the calling task;
/// they are polled in the order written, so tokio's `biased;` (poll in
/// order instead of tokio's default rotation) is accepted and changes
/// nothing.
///
/// ```
/// # gort::runtime::Runtime::new().unwrap().block_on(async {
/// let (a, b) = gort::join!(async { 1 }, async { "two" });
/// assert_eq!((a, b), (1, "two"));
/// let (c,) = gort::join!(biased; async { 3 });
/// assert_eq!(c, 3);
/// # });
/// ```
#[macro_export]
macro_rules! join {
    (biased; $($e:expr),+ $(,)?) => { $crate::__join!(@join [] $($e,)+) };
    ($($e:expr),+ $(,)?) => { $crate::__join!(@join [] $($e,)+) };
}

/// Like [`join!`] for futures returning `Result`: all `Ok` values, or the
/// first `Err` as soon as one future fails (the others are dropped).
///
/// ```
/// # gort::runtime::Runtime::new().unwrap().block_on(async {
/// let r: Result<(u8, u8), &str> = gort::try_join!(async { Ok(1) }, async { Ok(2) });
/// assert_eq!(r, Ok((1, 2)));
/// let e: Result<(u8, u8), &str> = gort::try_join!(async { Ok(1) }, async { Err("no") });
/// assert_eq!(e, Err("no"));
/// let b: Result<(u8,), &str> = gort::try_join!(biased; async { Ok(3) });
/// assert_eq!(b, Ok((3,)));
/// # });
/// ```
///
/// Futures are polled in the order written; `biased;` is accepted as in
/// [`join!`].
#[macro_export]
macro_rules! try_join {
    (biased; $($e:expr),+ $(,)?) => { $crate::__join!(@try [] $($e,)+) };
    ($($e:expr),+ $(,)?) => { $crate::__join!(@try [] $($e,)+) };
}

/// Expands `join!`/`try_join!`: each step binds one future to a new `f`
/// (macro hygiene keeps every step's `f` distinct), the last step polls
/// them all.
#[doc(hidden)]
#[macro_export]
macro_rules! __join {
    (@$kind:ident [$($f:ident)*] $e:expr, $($rest:expr,)*) => {{
        let mut f = $crate::__private::MaybeDone::new($e);
        $crate::__join!(@$kind [$($f)* f] $($rest,)*)
    }};
    (@join [$($f:ident)*]) => {
        $crate::__private::poll_fn(move |cx| {
            let mut all = true;
            $(
                // SAFETY: `f` lives in this poll_fn's closure, which is not
                // moved once the poll_fn future is pinned by `.await`.
                all &= unsafe { ::core::pin::Pin::new_unchecked(&mut $f) }.poll_done(cx);
            )*
            if !all {
                return ::core::task::Poll::Pending;
            }
            ::core::task::Poll::Ready(($(
                // SAFETY: as above.
                unsafe { ::core::pin::Pin::new_unchecked(&mut $f) }.take_output(),
            )*))
        }).await
    };
    (@try [$($f:ident)*]) => {
        $crate::__private::poll_fn(move |cx| {
            let mut all = true;
            $(
                // SAFETY: `f` lives in this poll_fn's closure, which is not
                // moved once the poll_fn future is pinned by `.await`.
                let mut p = unsafe { ::core::pin::Pin::new_unchecked(&mut $f) };
                all &= p.as_mut().poll_done(cx);
                if let ::core::option::Option::Some(e) = p.take_err() {
                    return ::core::task::Poll::Ready(::core::result::Result::Err(e));
                }
            )*
            if !all {
                return ::core::task::Poll::Pending;
            }
            ::core::task::Poll::Ready(::core::result::Result::Ok(($(
                // SAFETY: as above.
                match unsafe { ::core::pin::Pin::new_unchecked(&mut $f) }.take_output() {
                    ::core::result::Result::Ok(v) => v,
                    ::core::result::Result::Err(_) => unreachable!("errors were returned above"),
                },
            )*)))
        }).await
    };
}

#[doc(hidden)]
pub mod __private {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub use std::future::poll_fn;

    /// A future, then its output once it finished.
    pub enum MaybeDone<F: Future> {
        Future(F),
        Done(F::Output),
        Gone,
    }

    impl<F: Future> MaybeDone<F> {
        pub fn new(f: F) -> MaybeDone<F> {
            MaybeDone::Future(f)
        }

        /// Polls the future if it still runs; true once it has finished.
        pub fn poll_done(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
            // SAFETY: the future is never moved out while it runs; it is
            // replaced (dropped in place) only once it has completed.
            let this = unsafe { self.get_unchecked_mut() };
            match this {
                MaybeDone::Future(f) => {
                    // SAFETY: `f` is structurally pinned in `self`.
                    match unsafe { Pin::new_unchecked(f) }.poll(cx) {
                        Poll::Ready(v) => {
                            *this = MaybeDone::Done(v);
                            true
                        }
                        Poll::Pending => false,
                    }
                }
                _ => true,
            }
        }

        /// Takes the output of a finished future.
        pub fn take_output(self: Pin<&mut Self>) -> F::Output {
            // SAFETY: only the output is moved out, never the future.
            let this = unsafe { self.get_unchecked_mut() };
            match std::mem::replace(this, MaybeDone::Gone) {
                MaybeDone::Done(v) => v,
                _ => panic!("join!: output taken twice or before completion"),
            }
        }
    }

    impl<F: Future<Output = Result<T, E>>, T, E> MaybeDone<F> {
        /// Takes the error of a future that finished with one.
        pub fn take_err(self: Pin<&mut Self>) -> Option<E> {
            // SAFETY: only the output is moved out, never the future.
            let this = unsafe { self.get_unchecked_mut() };
            if matches!(this, MaybeDone::Done(Err(_))) {
                if let MaybeDone::Done(Err(e)) = std::mem::replace(this, MaybeDone::Gone) {
                    return Some(e);
                }
            }
            None
        }
    }
}
