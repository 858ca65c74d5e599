//! The two runtimes every side-by-side bench compares: gort and tokio's
//! multi-thread runtime, with the same number of workers.

/// Workers (gort Ps, tokio worker threads) of both runtimes.
pub const WORKERS: usize = 2;

pub fn gort_rt() -> gort::runtime::Runtime {
    gort::runtime::Builder::new()
        .procs(WORKERS)
        .build()
        .unwrap()
}

pub fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .unwrap()
}
