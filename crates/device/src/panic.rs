//! Device panics (failed bounds checks, `unwrap`, `assert!`, explicit `panic!`).
//!
//! The handler records where the first panicking thread panicked, then executes `trap`, which
//! aborts the whole grid; the host sees the launch (or the next synchronisation) fail with a
//! sticky error and must recreate the context.
//!
//! The record goes to host memory: the host writes the device address of a pinned, mapped
//! buffer of [`PanicRecord`] layout into the module global [`GPUKIT_PANIC_RECORD`] (via
//! `cuModuleGetGlobal`; `gpukit::runtime::panic::PanicBuffer` does it). Device memory could not be
//! read back after the trap, mapped host memory can. While the global is 0 (the host set up
//! nothing) the handler only traps.
//!
//! Recording is the cargo feature `panic-location` (on by default). It has a price: ptxas sizes
//! a kernel's registers over its whole call tree, and core's panic path that materialises the
//! location takes about 50 registers, so every kernel that can panic needs that many (measured
//! with ptxas for sm_90: `vector_add` 12 → 50, `saxpy` 22 → 50). A kernel crate tuned for
//! occupancy turns it off (`default-features = false`); its panics still trap and the host still
//! names the failed kernel, without file:line.

/// Device address of the host's mapped panic record, or 0. Written by the host before launches.
#[cfg(feature = "panic-location")]
#[unsafe(no_mangle)]
pub static mut GPUKIT_PANIC_RECORD: u64 = 0;

/// Bytes of the file name kept in a record (longer names keep their last bytes).
pub const FILE_BYTES: usize = 160;
/// Bytes of the message kept in a record (static messages only, e.g. `panic!("literal")`).
pub const MESSAGE_BYTES: usize = 96;

/// Layout of the record in host memory (mirrored by the host runtime, 304 bytes).
#[repr(C)]
pub struct PanicRecord {
    /// 0 empty, 1 being written, 2 complete (written last, after a system fence).
    pub state: u32,
    /// Source line of the panic.
    pub line: u32,
    /// Source column of the panic.
    pub column: u32,
    /// Bytes of `file` in use.
    pub file_len: u32,
    /// `u32::MAX` when the message was formatted (not a static string) and is not recorded.
    pub message_len: u32,
    /// `blockIdx` of the panicking thread.
    pub block: [u32; 3],
    /// `threadIdx` of the panicking thread.
    pub thread: [u32; 3],
    /// Keeps `file` 8-byte aligned.
    pub _pad: u32,
    /// The source file's path (its last [`FILE_BYTES`] bytes), UTF-8.
    pub file: [u8; FILE_BYTES],
    /// The panic message (its first [`MESSAGE_BYTES`] bytes), UTF-8.
    pub message: [u8; MESSAGE_BYTES],
}

#[cfg(target_arch = "nvptx64")]
#[panic_handler]
fn on_panic(info: &core::panic::PanicInfo) -> ! {
    #[cfg(feature = "panic-location")]
    record(info);
    #[cfg(not(feature = "panic-location"))]
    let _ = info;
    // SAFETY: `trap` aborts the whole grid; nothing after it runs.
    unsafe { crate::arch::nvptx::trap() }
}

#[cfg(all(feature = "panic-location", target_arch = "nvptx64"))]
// Kept small: every kernel that can panic reserves this function's registers (ptxas counts
// the whole call tree), so no unrolled loops here.
#[cold]
#[inline(never)]
#[cfg_attr(target_arch = "nvptx64", optimize(size))]
fn record(info: &core::panic::PanicInfo) {
    use crate::atomic::{AtomicElem, AtomicInt, Ordering, Scope};
    // SAFETY: the global is only written by the host between launches; a volatile read sees it.
    let addr = unsafe { core::ptr::read_volatile(&raw const GPUKIT_PANIC_RECORD) };
    if addr == 0 {
        return;
    }
    let rec = addr as *mut PanicRecord;
    // SAFETY (whole block): `addr` is the device address of a live, mapped `PanicRecord` (the
    // host's contract when it sets the global). Only the thread that wins the compare-exchange
    // writes the fields; all writes are volatile (the host reads them concurrently after the
    // trap), bounded by the array sizes, and published by the state store after a system fence.
    unsafe {
        let state = &raw mut (*rec).state;
        if u32::atomic_compare_exchange(state, 0, 1, Scope::System, Ordering::Relaxed).is_err() {
            return;
        }
        let (line, column, file) = match info.location() {
            Some(l) => (l.line(), l.column(), l.file().as_bytes()),
            None => (0, 0, &[][..]),
        };
        core::ptr::write_volatile(&raw mut (*rec).line, line);
        core::ptr::write_volatile(&raw mut (*rec).column, column);
        let keep = file.len().min(FILE_BYTES);
        let skip = file.len() - keep;
        for i in 0..keep {
            core::ptr::write_volatile(
                (&raw mut (*rec).file as *mut u8).add(i),
                *file.as_ptr().add(skip + i),
            );
        }
        core::ptr::write_volatile(&raw mut (*rec).file_len, keep as u32);
        let msg_len = match info.message().as_str() {
            Some(m) => {
                let n = m.len().min(MESSAGE_BYTES);
                for i in 0..n {
                    core::ptr::write_volatile(
                        (&raw mut (*rec).message as *mut u8).add(i),
                        *m.as_ptr().add(i),
                    );
                }
                n as u32
            }
            None => u32::MAX,
        };
        core::ptr::write_volatile(&raw mut (*rec).message_len, msg_len);
        let (b, t) = (crate::block_idx(), crate::thread_idx());
        core::ptr::write_volatile(&raw mut (*rec).block, [b.x, b.y, b.z]);
        core::ptr::write_volatile(&raw mut (*rec).thread, [t.x, t.y, t.z]);
        u32::atomic_store(state, 2, Scope::System, Ordering::SeqCst);
        crate::sync::fence_system();
    }
}
