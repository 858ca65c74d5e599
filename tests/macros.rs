//! `#[gort::main]` and `#[gort::test]` end to end: each test is an annotated
//! function that must compile, build a runtime and run its body.
//!
//! Only the runtime API the macros expand to is used here
//! (`gort::runtime::Builder::{new, new_current_thread, new_multi_thread,
//! procs, worker_threads, build}`, `Runtime::block_on`), so these tests run
//! unchanged against any runtime that provides it.

use std::error::Error;
use std::future::Future;
use std::num::ParseIntError;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;

/// A future that is pending on its first poll and completes with `value`
/// once another thread has woken it: proves the body is really polled again
/// after a wake-up, not just once.
struct CompletedByAnotherThread {
    value: u32,
    shared: Option<Arc<Shared>>,
}

#[derive(Default)]
struct Shared {
    done: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

fn completed_by_another_thread(value: u32) -> CompletedByAnotherThread {
    CompletedByAnotherThread {
        value,
        shared: None,
    }
}

impl Future for CompletedByAnotherThread {
    type Output = u32;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let shared = match &self.shared {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared = Arc::new(Shared::default());
                self.shared = Some(Arc::clone(&shared));
                *shared.waker.lock().unwrap() = Some(cx.waker().clone());
                let remote = Arc::clone(&shared);
                thread::spawn(move || {
                    remote.done.store(true, Ordering::SeqCst);
                    if let Some(waker) = remote.waker.lock().unwrap().take() {
                        waker.wake();
                    }
                });
                shared
            }
        };
        // Store the waker before looking at `done`: the other thread sets
        // `done` before it takes the waker, so one of the two sees the other.
        *shared.waker.lock().unwrap() = Some(cx.waker().clone());
        if shared.done.load(Ordering::SeqCst) {
            Poll::Ready(self.value)
        } else {
            Poll::Pending
        }
    }
}

#[gort::test]
async fn test_runs_body() {
    assert_eq!(completed_by_another_thread(7).await, 7);
}

#[gort::test(procs = 2)]
async fn test_with_procs_runs_body() {
    assert_eq!(completed_by_another_thread(2).await, 2);
}

#[gort::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_with_multi_thread_flavor_and_worker_threads_runs_body() {
    assert_eq!(completed_by_another_thread(3).await, 3);
}

#[gort::test(flavor = "current_thread", procs = 1)]
async fn test_with_current_thread_flavor_runs_body() {
    assert_eq!(completed_by_another_thread(1).await, 1);
}

#[gort::test]
async fn test_returning_ok_passes_and_question_mark_works() -> Result<(), ParseIntError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[gort::test]
#[should_panic(expected = "boom")]
async fn test_panicking_in_body_fails_with_its_message() {
    completed_by_another_thread(0).await;
    panic!("boom");
}

#[gort::test]
#[ignore = "proves #[ignore] passes through #[gort::test]; passes when run with --ignored"]
async fn test_marked_ignore_is_ignored() {
    assert_eq!(completed_by_another_thread(5).await, 5);
}

#[gort::test]
async fn inner_attributes_apply_to_the_whole_test() {
    #![allow(unused_variables)]
    let unused = completed_by_another_thread(6).await;
}

macro_rules! test_with_procs_from_macro_fragment {
    ($name:ident, $procs:expr) => {
        #[gort::test(procs = $procs)]
        async fn $name() {
            assert_eq!(completed_by_another_thread(4).await, 4);
        }
    };
}

test_with_procs_from_macro_fragment!(test_with_procs_from_macro_rules_fragment_runs_body, 2);

/// A `crate = "..."` target: gort's `Builder` behind another path, counting
/// the runtimes built through it.
mod renamed {
    pub mod runtime {
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub static BUILT: AtomicUsize = AtomicUsize::new(0);

        pub struct Builder(gort::runtime::Builder);

        impl Builder {
            pub fn new_current_thread() -> Builder {
                Builder(gort::runtime::Builder::new_current_thread())
            }

            pub fn build(self) -> std::io::Result<gort::runtime::Runtime> {
                BUILT.fetch_add(1, Ordering::SeqCst);
                // A moved-out temporary: works whether `build` takes `self`
                // or, tokio-style, `&mut self`.
                { self.0 }.build()
            }
        }
    }
}

#[gort::test(crate = "crate::renamed")]
async fn crate_argument_replaces_the_gort_path() {
    assert_eq!(renamed::runtime::BUILT.load(Ordering::SeqCst), 1);
}

// `#[gort::main]` on functions other than `main`: each becomes a blocking
// function, so its expansion can be called and checked from a plain test.

#[gort::main]
pub(crate) async fn parse_positive(input: &str) -> Result<u32, Box<dyn Error>> {
    let n: u32 = input.parse()?;
    if n == 0 {
        return Err("zero is not positive".into());
    }
    Ok(completed_by_another_thread(n).await)
}

#[test]
fn main_keeps_result_return_type_and_question_mark_converts_errors() {
    assert_eq!(parse_positive("9").unwrap(), 9);
    assert_eq!(
        parse_positive("x").unwrap_err().to_string(),
        "invalid digit found in string"
    );
    assert_eq!(
        parse_positive("0").unwrap_err().to_string(),
        "zero is not positive"
    );
}

#[gort::main(procs = 2)]
async fn first_even(numbers: Vec<u32>) -> Option<u32> {
    for n in numbers {
        if n % 2 == 0 {
            return Some(completed_by_another_thread(n).await);
        }
    }
    None
}

#[test]
fn return_in_main_body_returns_from_the_function() {
    assert_eq!(first_even(vec![1, 3, 4, 6]), Some(4));
    assert_eq!(first_even(vec![1, 3]), None);
}

#[gort::main(flavor = "multi_thread", worker_threads = 2)]
async fn add_on_multi_thread(body: u32, runtime: u32) -> u32 {
    // Parameters named like the expansion's locals: the expansion's names
    // are hygienic, so these are the caller's values.
    body + completed_by_another_thread(runtime).await
}

#[test]
fn main_with_flavor_runs_body_and_its_locals_do_not_capture_parameters() {
    assert_eq!(add_on_multi_thread(40, 2), 42);
}

#[gort::main(flavor = "current_thread")]
async fn unit_on_current_thread(ran: &AtomicBool) {
    completed_by_another_thread(0).await;
    ran.store(true, Ordering::SeqCst);
}

#[test]
fn main_with_current_thread_flavor_runs_body_with_borrowed_parameter() {
    let ran = AtomicBool::new(false);
    unit_on_current_thread(&ran);
    assert!(ran.load(Ordering::SeqCst));
}
