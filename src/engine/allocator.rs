//! The allocator's memory policy per phase. mimalloc (the binary's global allocator) gives
//! freed memory back to the OS a second after it is freed; touching it again later costs a page
//! fault and the kernel zeroing the page.
//!
//! - The loader frees each file's buffers (hundreds of megabytes a day at 10M events) and
//!   allocates as much for the next file moments later: while it runs, freed memory is kept
//!   ([`PurgeDelay::never`]).
//! - The models free and allocate operators' buffers all the time: without a memory limit they
//!   keep freed memory 10 s instead of 1 s ([`PurgeDelay::for_models`]). At 10M events the run
//!   took 28.8-29.7 s instead of 30.7 s (sys 3.7-4.2 s instead of 6.9-7.2 s), peaking at
//!   1.85-1.97 GB instead of 1.25-1.34 GB (DuckDB's build: 3.5 GB); at 1M, 3.45-3.52 s instead
//!   of 3.61-3.69 s, peaking at 0.60 instead of 0.54 GB, under the load's peak.

/// mimalloc's `mi_option_purge_delay` (the same index in its v2 and v3 headers): milliseconds
/// before freed memory goes back to the OS, -1 for never.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long the models keep freed memory (milliseconds).
const MODELS_PURGE_DELAY_MS: std::os::raw::c_long = 10_000;

/// While alive, mimalloc waits at least as long as asked before giving freed memory back (the
/// longest asked of those alive); when the last one alive is dropped, the delay before it
/// returns (memory freed meanwhile is reused by later allocations rather than given back).
/// Where mimalloc is not the global allocator (tests, a library user), this changes nothing.
pub struct PurgeDelay(());

/// The guards alive, and the delay to restore after the last (the delay they set is
/// mimalloc's own option, read back under this lock).
struct Held {
    alive: usize,
    restore: std::os::raw::c_long,
}

static HELD: std::sync::Mutex<Held> = std::sync::Mutex::new(Held {
    alive: 0,
    restore: 0,
});

/// Whether delay `a` keeps memory longer than `b` (-1 is never given back).
fn longer(a: std::os::raw::c_long, b: std::os::raw::c_long) -> bool {
    b != -1 && (a == -1 || a > b)
}

impl PurgeDelay {
    /// Freed memory is kept while this is alive (the loader).
    pub fn never() -> Self {
        Self::at_least(-1)
    }

    /// The models' delay, unless `MIMALLOC_PURGE_DELAY` says otherwise (then it is left alone).
    pub fn for_models() -> Option<Self> {
        std::env::var_os("MIMALLOC_PURGE_DELAY")
            .is_none()
            .then(|| Self::at_least(MODELS_PURGE_DELAY_MS))
    }

    fn at_least(ms: std::os::raw::c_long) -> Self {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: reading and setting an allocator option is thread-safe in mimalloc.
        let current = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        if held.alive == 0 {
            held.restore = current;
        }
        if longer(ms, current) {
            // SAFETY: as above.
            unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, ms) };
        }
        held.alive += 1;
        PurgeDelay(())
    }
}

impl Drop for PurgeDelay {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        held.alive -= 1;
        if held.alive == 0 {
            // SAFETY: as in `at_least`.
            unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, held.restore) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_delay_asked_holds_until_the_last_guard_then_the_old_one() {
        // SAFETY: reading an option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        let before = get();
        // mimalloc v3's default (1000 ms) unless MIMALLOC_PURGE_DELAY says otherwise: a wrong
        // index would read another option.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(before, 1000);
        }
        {
            let models = PurgeDelay::at_least(10_000);
            assert_eq!(get(), 10_000);
            let load = PurgeDelay::never();
            assert_eq!(get(), -1);
            let again = PurgeDelay::at_least(5_000);
            assert_eq!(get(), -1, "never is the longest");
            drop(load);
            drop(models);
            assert_eq!(get(), -1, "one still alive: as it was");
            drop(again);
        }
        assert_eq!(get(), before);
    }

    #[test]
    fn never_is_longer_than_any_delay() {
        assert!(longer(-1, 10_000));
        assert!(!longer(10_000, -1));
        assert!(longer(10_000, 1_000));
        assert!(!longer(1_000, 1_000));
    }
}
