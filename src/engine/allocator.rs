//! The allocator's memory policy per phase. mimalloc (the binary's global allocator) gives
//! freed memory back to the OS a second after it is freed; touching it again later costs a page
//! fault and the kernel zeroing the page. The loader frees each file's buffers (hundreds of
//! megabytes a day at 10M events) and allocates as much for the next file moments later, so
//! while it runs, freed memory is kept for reuse instead ([`KeepFreedMemory`]).

/// mimalloc's `mi_option_purge_delay` (the same index in its v2 and v3 headers): milliseconds
/// before freed memory goes back to the OS, -1 for never.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// While alive, mimalloc keeps freed memory for reuse; when the last one alive is dropped,
/// the delay before it returns (memory freed meanwhile is reused by later allocations rather
/// than given back). Where mimalloc is not the global allocator (tests, a library user), this
/// changes nothing.
pub struct KeepFreedMemory(());

/// How many [`KeepFreedMemory`] are alive, and the delay to restore after the last.
static KEPT: std::sync::Mutex<(usize, std::os::raw::c_long)> = std::sync::Mutex::new((0, 0));

impl KeepFreedMemory {
    pub fn new() -> Self {
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        if kept.0 == 0 {
            // SAFETY: reading and setting an allocator option is thread-safe in mimalloc.
            kept.1 = unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
            unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
        }
        kept.0 += 1;
        KeepFreedMemory(())
    }
}

impl Default for KeepFreedMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for KeepFreedMemory {
    fn drop(&mut self) {
        let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
        kept.0 -= 1;
        if kept.0 == 0 {
            // SAFETY: as in `new`.
            unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, kept.1) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_is_never_while_kept_then_as_before() {
        // SAFETY: reading an option.
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        let before = get();
        // mimalloc v3's default (1000 ms) unless MIMALLOC_PURGE_DELAY says otherwise: a wrong
        // index would read another option.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(before, 1000);
        }
        {
            let first = KeepFreedMemory::new();
            let second = KeepFreedMemory::new();
            assert_eq!(get(), -1);
            drop(first);
            assert_eq!(get(), -1, "one still alive: still kept");
            drop(second);
        }
        assert_eq!(get(), before);
    }
}
