//! Cache hints: the engine's tables are cold in the cache when rules are many, so loads it knows
//! it will make (table slots, clause lists, rule trees) are asked for together, ahead of use,
//! and wait on memory in parallel instead of one after another.

/// Ask the CPU to load the cache line of `ptr` (a hint: it reads nothing the program sees and
/// never faults, whatever the address).
#[inline]
pub fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}
