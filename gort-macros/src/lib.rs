//! gort's procedural macros: `#[gort::main]`, `#[gort::test]` and
//! `#[derive(Trace)]` (in `trace.rs`).
//!
//! Use them through the facade, as `#[gort::main]` and `#[gort::test]`; this
//! crate is an implementation detail of `gort`.
//!
//! A Go program's `main` already runs on the runtime. A Rust program starts on
//! a plain thread, so these attributes do what `rt0_go` and `runtime.main` do
//! for Go: build the runtime (with `gort::runtime::Builder`), then run the
//! program's body on it (`Runtime::block_on`) and return what it returns.
//!
//! The arguments are gort's `procs` (Go's `GOMAXPROCS`) and tokio's `flavor`,
//! `worker_threads`, `start_paused` and `crate` with tokio's meaning, so a
//! program moves from `#[tokio::main]` to `#[gort::main]` unchanged; the
//! defaults are documented on [`macro@main`] and [`macro@test`]. The
//! argument parsing lives in `config.rs`, the function rewrite in `entry.rs`.

use proc_macro::TokenStream;

mod config;
mod entry;
mod trace;

use config::Kind;

/// Runs an `async fn main` on a gort runtime.
///
/// ```no_run
/// #[gort::main]
/// async fn main() {
///     println!("hello from gort");
/// }
/// ```
///
/// The function keeps its attributes, visibility, parameters and return type;
/// `return` and `?` in the body work as in any function:
///
/// ```no_run
/// use std::error::Error;
///
/// #[gort::main(procs = 4)]
/// async fn main() -> Result<(), Box<dyn Error>> {
///     let port: u16 = "8080".parse()?;
///     if port == 0 {
///         return Err("port 0".into());
///     }
///     Ok(())
/// }
/// ```
///
/// It expands to a plain `fn` that builds a runtime and blocks on the body:
///
/// ```text
/// fn main() -> Result<(), Box<dyn Error>> {
///     let body = async move { /* the body */ };
///     let runtime = match ::gort::runtime::Builder::new().procs(4).build() {
///         Ok(runtime) => runtime,
///         Err(error) => panic!("failed to build the gort runtime: {}", error),
///     };
///     runtime.block_on(body)
/// }
/// ```
///
/// # Arguments
///
/// | argument | builder |
/// |---|---|
/// | (none) | `Builder::new()`: as many Ps as `GORT_MAXPROCS` says, else one per CPU |
/// | `procs = N` (integer literal ≥ 1) | `Builder::new().procs(N)` |
/// | `worker_threads = N` | tokio's name for `procs`; the same expansion |
/// | `flavor = "multi_thread"` | `Builder::new_multi_thread()`, then `.procs(N)` if given |
/// | `flavor = "current_thread"` | `Builder::new_current_thread()`; `procs`/`worker_threads` above 1 is an error, 1 is redundant |
/// | `start_paused = true` / `false` | `.start_paused(b)` appended (emitted only when given) |
/// | `crate = "path"` | `path::runtime::Builder` instead of `::gort::runtime::Builder`, for a renamed or re-exported gort |
///
/// If `build()` fails (a bad `GORT_MAXPROCS`, say), `main` panics with
/// "failed to build the gort runtime: " and the error.
///
/// A function not named `main` may carry the attribute too, and may then
/// take parameters: it becomes a blocking function that runs its body on a
/// fresh runtime.
///
/// # Misuse is a compile error
///
/// The function must be `async`:
///
/// ```compile_fail
/// #[gort::main]
/// fn main() {}
/// ```
///
/// `main` takes no parameters:
///
/// ```compile_fail
/// #[gort::main]
/// async fn main(args: Vec<String>) {}
/// ```
///
/// Unknown arguments are rejected, with the list of accepted ones:
///
/// ```compile_fail
/// #[gort::main(threads = 4)]
/// async fn main() {}
/// ```
///
/// `procs` is an integer literal of at least 1:
///
/// ```compile_fail
/// #[gort::main(procs = 0)]
/// async fn main() {}
/// ```
///
/// ```compile_fail
/// #[gort::main(procs = "4")]
/// async fn main() {}
/// ```
///
/// An argument is given at most once (`worker_threads` counts as `procs`):
///
/// ```compile_fail
/// #[gort::main(procs = 2, worker_threads = 2)]
/// async fn main() {}
/// ```
///
/// The flavor is `"multi_thread"` or `"current_thread"`:
///
/// ```compile_fail
/// #[gort::main(flavor = "local")]
/// async fn main() {}
/// ```
///
/// `current_thread` runs one P:
///
/// ```compile_fail
/// #[gort::main(flavor = "current_thread", worker_threads = 4)]
/// async fn main() {}
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Main, args.into(), item.into()).into()
}

/// Runs an `async fn` test on a fresh gort runtime.
///
/// ```
/// #[gort::test]
/// async fn adds() {
///     let sum = async { 1 + 1 }.await;
///     assert_eq!(sum, 2);
/// }
/// ```
///
/// Each test builds its own runtime, so tests do not share Ps, timers or
/// tasks. `#[test]` is added after the function's own attributes, which pass
/// through: `#[should_panic]`, `#[ignore]`, and a `Result` return type work
/// as on any test.
///
/// ```
/// #[gort::test(flavor = "multi_thread", worker_threads = 2)]
/// #[should_panic(expected = "boom")]
/// async fn panics() {
///     panic!("boom");
/// }
///
/// #[gort::test(procs = 2)]
/// async fn parses() -> Result<(), std::num::ParseIntError> {
///     assert_eq!("7".parse::<u8>()?, 7);
///     Ok(())
/// }
/// ```
///
/// # Arguments
///
/// The same as [`macro@main`] (`procs`, `worker_threads`, `flavor`,
/// `start_paused`, `crate`) with one difference in the default:
///
/// | argument | builder |
/// |---|---|
/// | (none) | `Builder::new_current_thread()`: one P, as tokio's tests default to `current_thread` (a test should not depend on the machine's CPU count) |
/// | `procs = N` | `Builder::new().procs(N)` |
///
/// # Misuse is a compile error
///
/// Everything rejected by [`macro@main`] is rejected here too:
///
/// ```compile_fail
/// #[gort::test]
/// fn not_async() {}
/// ```
///
/// ```compile_fail
/// #[gort::test(flavor = "current_thread", procs = 2)]
/// async fn two_procs() {}
/// ```
///
/// A test takes no parameters:
///
/// ```compile_fail
/// #[gort::test]
/// async fn with_parameter(n: u32) {}
/// ```
///
/// and needs no second `#[test]`:
///
/// ```compile_fail
/// #[gort::test]
/// #[test]
/// async fn twice() {}
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand(Kind::Test, args.into(), item.into()).into()
}

/// Implements `gort::gc::Trace` for a struct or enum: the collector visits
/// every field, except those marked `#[gc(skip)]`.
///
/// Every type parameter gets a `Trace` bound. The impl names
/// `::gort::gc::Trace`; `#[gc(crate = "path")]` on the type names another
/// path to the `gort` crate (or `gort_core`).
///
/// ```
/// use gort::gc::{self, Gc, GcCell, Trace};
///
/// #[derive(Trace)]
/// struct Node {
///     name: String,
///     children: GcCell<Vec<Gc<Node>>>,
///     #[gc(skip)]
///     hits: std::sync::atomic::AtomicU64,
/// }
///
/// #[derive(Trace)]
/// enum Tree<T> {
///     Leaf(T),
///     Branch(Gc<Tree<T>>, Gc<Tree<T>>),
///     Empty,
/// }
///
/// let root = Gc::new(Node {
///     name: "root".into(),
///     children: GcCell::new(vec![]),
///     hits: 0.into(),
/// });
/// root.children.borrow_mut().push(root.clone()); // a cycle
/// let t = Gc::new(Tree::Branch(Gc::new(Tree::Leaf(1u8)), Gc::new(Tree::Empty)));
/// drop((root, t));
/// gc::collect();
/// ```
///
/// A skipped field that does hold a `Gc` is not unsafe: that handle stays a
/// root, so what it points to is kept alive (a cycle through it leaks).
/// Unions are rejected:
///
/// ```compile_fail
/// #[derive(gort::gc::Trace)]
/// union U { a: u32, b: f32 }
/// ```
#[proc_macro_derive(Trace, attributes(gc))]
pub fn derive_trace(item: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(item as syn::DeriveInput);
    trace::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
