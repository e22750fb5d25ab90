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
//!
//! [`crate::assert!`] is the cheap, always-recording check: its failure path passes one pointer
//! to a static [`Site`] to an out-of-line function, so it reports `file:line:column` and its
//! message with or without the feature. [`trap`] stops the grid without a record.

/// Device address of the host's mapped panic record, or 0. Written by the host before launches.
/// Present with or without the `panic-location` feature: [`crate::assert!`] always records.
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
    trap()
}

/// Record the panic's location and message (when the host attached a record) for the panic
/// handler.
#[cfg(all(feature = "panic-location", target_arch = "nvptx64"))]
fn record(info: &core::panic::PanicInfo) {
    let (line, column, file) = match info.location() {
        Some(l) => (l.line(), l.column(), l.file()),
        None => (0, 0, ""),
    };
    record_site(file, line, column, info.message().as_str());
}

/// Where a [`crate::assert!`] (or [`fail`]) stops the kernel: a `static` written by the macro,
/// so the failing path passes one pointer instead of materialising a panic.
pub struct Site {
    /// `file!()` of the check.
    pub file: &'static str,
    /// `line!()` of the check.
    pub line: u32,
    /// `column!()` of the check.
    pub column: u32,
    /// The message the host reports.
    pub message: &'static str,
}

/// Stop the whole grid with `site` recorded for the host (kernel, `file:line:column`, message,
/// block and thread; see the module docs). Works whether or not the `panic-location` feature
/// is on, and costs the calling kernel few registers: the record is written out of line.
#[cold]
#[inline(never)]
pub fn fail(site: &'static Site) -> ! {
    record_site(site.file, site.line, site.column, Some(site.message));
    trap()
}

/// Abort the whole grid now (PTX `trap`): the launch, or the next synchronisation, fails with a
/// sticky error (`CUDA_ERROR_LAUNCH_FAILED`, or `ILLEGAL_INSTRUCTION`), and the host must
/// recreate the context. Nothing is recorded; [`crate::assert!`] records where and why.
#[inline(always)]
pub fn trap() -> ! {
    // SAFETY: `trap` touches no memory; it ends every thread of the grid.
    unsafe { crate::arch::nvptx::trap() }
}

/// Write the first failure of the launch into the host's mapped record. Kept small: every
/// kernel that can fail reserves this function's registers (ptxas counts the whole call tree),
/// so no unrolled loops here.
#[cold]
#[inline(never)]
#[cfg_attr(target_arch = "nvptx64", optimize(size))]
fn record_site(file: &str, line: u32, column: u32, message: Option<&str>) {
    use crate::atomic::{AtomicElem, AtomicInt, Ordering, Scope};
    // SAFETY: the global is only written by the host between launches; a volatile read sees it.
    let addr = unsafe { core::ptr::read_volatile(&raw const GPUKIT_PANIC_RECORD) };
    if addr == 0 {
        return;
    }
    let rec = addr as *mut PanicRecord;
    let file = file.as_bytes();
    // SAFETY: (whole block) `addr` is the device address of a live, mapped `PanicRecord` (the
    // host's contract when it sets the global). Only the thread that wins the compare-exchange
    // writes the fields; all writes are volatile (the host reads them concurrently after the
    // trap), bounded by the array sizes, and published by the state store after a system fence.
    unsafe {
        let state = &raw mut (*rec).state;
        if u32::atomic_compare_exchange(state, 0, 1, Scope::System, Ordering::Relaxed).is_err() {
            return;
        }
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
        let msg_len = match message {
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

/// Check a condition on the device: when it is false, the kernel stops with `file:line:column`
/// and the message recorded for the host (as [`panic::fail`](crate::panic::fail)), e.g.
/// `gpu::assert!(cols % 4 == 0, "cols must be a multiple of 4")`. The message is a string
/// literal (formatting would cost every kernel registers); without one it is the condition's
/// text. Unlike `core::assert!`, this reports its message even in kernel crates built without the
/// `panic-location` feature.
#[macro_export]
macro_rules! assert {
    ($cond:expr $(,)?) => {
        $crate::assert!($cond, concat!("assertion failed: ", stringify!($cond)))
    };
    ($cond:expr, $msg:literal $(,)?) => {
        if !$cond {
            static SITE: $crate::panic::Site = $crate::panic::Site {
                file: file!(),
                line: line!(),
                column: column!(),
                message: $msg,
            };
            $crate::panic::fail(&SITE)
        }
    };
}
