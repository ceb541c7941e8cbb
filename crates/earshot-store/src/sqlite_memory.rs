//! SQLite's memory allocations through Rust's global allocator.
//!
//! Bundled SQLite allocates with the C library's `malloc`, behind a global mutex that keeps
//! its memory statistics. In a 1M-mention import the SQLite thread spent about a quarter of its
//! time there (`perf`: glibc `_int_malloc`, `unlink_chunk`, `_int_free`, `sqlite3MemSize`, the
//! statistics mutex): every bound text is copied into a fresh allocation, every record and
//! every B-tree rebalance allocates scratch space. The `earshot` binary's global allocator
//! (mimalloc) does the same work for a fraction of that, so the binary hands SQLite a set of
//! memory methods that call it, and turns the statistics off (nothing reads them).

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::os::raw::{c_int, c_void};

use libsqlite3_sys as ffi;

/// Bytes before each block that hold its size; 16 keeps the block 16-byte aligned (SQLite needs 8).
const HEADER: usize = 16;
const ALIGN: usize = 16;

fn layout(total: usize) -> Option<Layout> {
    Layout::from_size_align(total, ALIGN).ok()
}

unsafe extern "C" fn x_malloc(size: c_int) -> *mut c_void {
    let Ok(size) = usize::try_from(size) else {
        return std::ptr::null_mut();
    };
    let Some(layout) = layout(size + HEADER) else {
        return std::ptr::null_mut();
    };
    // SAFETY: the layout has a non-zero size (at least HEADER).
    let base = unsafe { alloc(layout) };
    if base.is_null() {
        return std::ptr::null_mut();
    }
    // SAFETY: the block is at least HEADER bytes and 16-byte aligned.
    unsafe {
        base.cast::<usize>().write(size + HEADER);
        base.add(HEADER).cast()
    }
}

/// The start and total size of the block behind a pointer `x_malloc` returned.
unsafe fn block_of(block: *mut c_void) -> (*mut u8, usize) {
    // SAFETY: the caller passes a pointer from x_malloc/x_realloc, HEADER bytes into its block.
    unsafe {
        let base = block.cast::<u8>().sub(HEADER);
        (base, base.cast::<usize>().read())
    }
}

unsafe extern "C" fn x_free(block: *mut c_void) {
    if block.is_null() {
        return;
    }
    // SAFETY: SQLite frees only what these methods allocated, once.
    unsafe {
        let (base, total) = block_of(block);
        dealloc(base, Layout::from_size_align_unchecked(total, ALIGN));
    }
}

unsafe extern "C" fn x_realloc(block: *mut c_void, size: c_int) -> *mut c_void {
    if block.is_null() {
        // SAFETY: as x_malloc.
        return unsafe { x_malloc(size) };
    }
    let Ok(size) = usize::try_from(size) else {
        return std::ptr::null_mut();
    };
    if layout(size + HEADER).is_none() {
        return std::ptr::null_mut();
    }
    // SAFETY: the block came from these methods; the new size is valid for the same alignment.
    unsafe {
        let (base, total) = block_of(block);
        let moved = realloc(
            base,
            Layout::from_size_align_unchecked(total, ALIGN),
            size + HEADER,
        );
        if moved.is_null() {
            return std::ptr::null_mut();
        }
        moved.cast::<usize>().write(size + HEADER);
        moved.add(HEADER).cast()
    }
}

unsafe extern "C" fn x_size(block: *mut c_void) -> c_int {
    if block.is_null() {
        return 0;
    }
    // SAFETY: the block came from these methods.
    let (_, total) = unsafe { block_of(block) };
    c_int::try_from(total - HEADER).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn x_roundup(size: c_int) -> c_int {
    size.saturating_add(7) & !7
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Makes SQLite allocate through Rust's global allocator and stop keeping memory statistics.
/// Returns whether SQLite took the settings: it refuses (and keeps its own `malloc`) once it has
/// been initialised, i.e. after the first connection of the process.
///
/// # Safety
/// Call it before any SQLite connection of the process is opened, while no other thread uses
/// SQLite (SQLite's own rule for `sqlite3_config`): the first lines of `main` are the place.
pub unsafe fn use_rust_allocator_for_sqlite() -> bool {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: the caller guarantees no concurrent SQLite use; SQLite copies the struct.
    unsafe {
        let malloc = ffi::sqlite3_config(
            ffi::SQLITE_CONFIG_MALLOC,
            &methods as *const ffi::sqlite3_mem_methods,
        );
        let stats = ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
        malloc == ffi::SQLITE_OK && stats == ffi::SQLITE_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_size_and_contents_through_realloc() {
        // SAFETY: the methods are used as SQLite would: allocate, resize, free, once each.
        unsafe {
            assert!(x_malloc(-1).is_null());
            let block = x_malloc(10).cast::<u8>();
            assert!(!block.is_null());
            assert_eq!(block as usize % 8, 0, "SQLite needs 8-byte alignment");
            assert_eq!(x_size(block.cast()), 10);
            for i in 0..10 {
                block.add(i).write(i as u8);
            }
            let grown = x_realloc(block.cast(), 5_000).cast::<u8>();
            assert_eq!(x_size(grown.cast()), 5_000);
            assert_eq!(
                std::slice::from_raw_parts(grown, 10),
                &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
            );
            x_free(grown.cast());
            x_free(std::ptr::null_mut());
            assert_eq!(x_size(std::ptr::null_mut()), 0);
            assert_eq!(x_roundup(13), 16);
        }
    }
}
