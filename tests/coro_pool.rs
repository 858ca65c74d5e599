//! The goroutine stack pool, in a process of its own so no other test's
//! stacks move the counters.
#![cfg(not(miri))] // the context switch is assembly, which Miri cannot run

#[test]
fn stack_pool_is_reused_by_sequential_coroutines() {
    let rt = gort::runtime::Builder::new().procs(2).build().unwrap();
    let before = gort::coro::stack_stats();
    let sum = rt.block_on(async {
        let mut sum = 0u64;
        for i in 0..1_000u64 {
            // SAFETY: the goroutine never switches.
            sum += unsafe { gort::go(move || i) }.await.unwrap();
        }
        sum
    });
    let after = gort::coro::stack_stats();
    assert_eq!(sum, 999 * 1_000 / 2);
    assert_eq!(
        after.mmaps - before.mmaps,
        1,
        "1000 sequential coroutines share one pooled stack"
    );
    assert_eq!(after.munmaps, before.munmaps);
    assert_eq!(after.pooled, 1);
}
