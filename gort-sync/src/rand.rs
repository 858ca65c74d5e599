//! A per-thread wyrand generator: Go's `cheaprand`, for select's poll order.
//!
//! `select!` needs a uniformly random permutation of its cases on every poll
//! (Go's `selectgo` builds `pollorder` with `cheaprandn`). Quality needs are
//! modest and speed matters, so this is wyrand (one multiply-xor per number)
//! in a thread-local `Cell`, seeded from a global counter mixed with the
//! address of the thread-local (distinct per thread, and per process under
//! ASLR). No `rand` crate: this is all select needs.
//!
//! Under `--cfg loom` the generator is not used: [`shuffle`] leaves the
//! identity order, because loom requires every execution of a model to make
//! the same choices for the same interleaving.

#[cfg(not(loom))]
use std::cell::Cell;

#[cfg(not(loom))]
thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// wyrand's additive constant.
#[cfg(not(loom))]
const WY_ADD: u64 = 0xa076_1d64_78bd_642f;
/// wyrand's mixing constant.
#[cfg(not(loom))]
const WY_XOR: u64 = 0xe703_7ed1_a0b4_28db;

#[cfg(not(loom))]
fn next_u64() -> u64 {
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = seed(s as *const Cell<u64> as u64);
        }
        x = x.wrapping_add(WY_ADD);
        s.set(x);
        let t = u128::from(x) * u128::from(x ^ WY_XOR);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

#[cfg(not(loom))]
fn seed(addr: u64) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let c = COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    let mut z = c ^ addr.rotate_left(29);
    // splitmix64 finaliser, so neighbouring seeds give unrelated streams.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) | 1
}

/// A uniform number in `0..n` (Lemire's multiply-shift, as Go's `cheaprandn`;
/// the bias is below `n / 2^32`, invisible for `n <= 64`).
#[cfg(not(loom))]
fn below(n: u32) -> u32 {
    ((u64::from(next_u64() as u32) * u64::from(n)) >> 32) as u32
}

/// Shuffles `order` into a uniformly random permutation (Fisher–Yates).
pub(crate) fn shuffle(order: &mut [u8]) {
    #[cfg(not(loom))]
    for i in (1..order.len()).rev() {
        let j = below(i as u32 + 1) as usize;
        order.swap(i, j);
    }
    #[cfg(loom)]
    let _ = order;
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_hits_every_value() {
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            seen[below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut order: Vec<u8> = (0..64).collect();
        shuffle(&mut order);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..64).collect::<Vec<u8>>());
    }
}
