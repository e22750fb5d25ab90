//! Wide loads from input slices.
use crate::out::Quad;

/// Element types that travel as one 32-bit word, so four of them fill one 16-byte vector access.
pub trait Word32: Copy {
    /// The value with these 32 bits.
    fn from_bits(b: u32) -> Self;
}
impl Word32 for f32 {
    #[inline(always)]
    fn from_bits(b: u32) -> Self {
        f32::from_bits(b)
    }
}
impl Word32 for u32 {
    #[inline(always)]
    fn from_bits(b: u32) -> Self {
        b
    }
}
impl Word32 for i32 {
    #[inline(always)]
    fn from_bits(b: u32) -> Self {
        b as i32
    }
}

/// One `ld.global.nc.v4.b32`: 16 bytes through the read-only data path.
///
/// # Safety
/// `p` is 16-byte aligned, the 16 bytes from it are global memory valid for reads, and no thread
/// writes them during the launch (the non-coherent path may serve stale data otherwise).
#[inline(always)]
pub(crate) unsafe fn ld_nc_v4_bits(p: *const u32) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!(
            "ld.global.nc.v4.b32 {{{a}, {b}, {c}, {d}}}, [{p}];",
            a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
            p = in(reg64) p,
            options(readonly, nostack, preserves_flags, pure),
        );
    }
    [a, b, c, d]
}

/// An L2 eviction policy for cache-hinted loads and stores (`createpolicy.fractional` over
/// the whole access): [`L2Policy::evict_last`] keeps lines that will be read again soon (a
/// two-pass kernel re-reading its slice from L2), [`L2Policy::evict_first`] marks lines that
/// will not be (streamed outputs, last reads). Only a hint: results never depend on it.
#[derive(Clone, Copy)]
pub struct L2Policy(u64);

/// An [`L2Policy`] constructor: one `createpolicy.fractional` of the given eviction priority.
macro_rules! l2_policy {
    ($(#[$doc:meta])* $name:ident, $priority:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name() -> L2Policy {
            let p: u64;
            // SAFETY: creates a policy value in a register; touches no memory.
            unsafe {
                crate::__device_asm!(
                    concat!("createpolicy.fractional.L2::", $priority, ".b64 {p}, 1.0;"),
                    p = out(reg64) p,
                    options(nomem, nostack, preserves_flags, pure),
                );
            }
            L2Policy(p)
        }
    };
}

impl L2Policy {
    l2_policy!(
        /// Lines accessed with this policy are evicted after the others.
        evict_last,
        "evict_last"
    );
    l2_policy!(
        /// Lines accessed with this policy are replaced as by an unhinted access.
        evict_normal,
        "evict_normal"
    );
    l2_policy!(
        /// Lines accessed with this policy are evicted first.
        evict_first,
        "evict_first"
    );
}

/// One `ld.global.nc.L1::no_allocate.L2::cache_hint.v4.b32`: 16 bytes through the read-only
/// path, not kept in L1, kept in L2 by `policy`.
///
/// # Safety
/// As [`ld_nc_v4_bits`].
#[inline(always)]
unsafe fn ld_nc_v4_hinted(p: *const u32, policy: L2Policy) -> [u32; 4] {
    let (a, b, c, d): (u32, u32, u32, u32);
    // SAFETY: the caller's contract; the policy operand only steers L2 replacement.
    unsafe {
        crate::__device_asm!(
            "ld.global.nc.L1::no_allocate.L2::cache_hint.v4.b32 {{{a}, {b}, {c}, {d}}}, [{p}], {h};",
            a = out(reg32) a, b = out(reg32) b, c = out(reg32) c, d = out(reg32) d,
            p = in(reg64) p, h = in(reg64) policy.0,
            options(readonly, nostack, preserves_flags, pure),
        );
    }
    [a, b, c, d]
}

/// Four words as `T`s, from one [`ld_nc_v4_bits`].
///
/// # Safety
/// As [`ld_nc_v4_bits`].
#[inline(always)]
unsafe fn ld_nc_v4<T: Word32>(p: *const T) -> [T; 4] {
    // SAFETY: the caller's contract.
    let [a, b, c, d] = unsafe { ld_nc_v4_bits(p as *const u32) };
    [
        T::from_bits(a),
        T::from_bits(b),
        T::from_bits(c),
        T::from_bits(d),
    ]
}

/// Elements `i .. i + 4` of `s`. When they are in bounds and 16-byte aligned this is one
/// `ld.global.nc.v4` (read-only path: inputs are never written during a launch, which the host
/// launcher guarantees by borrowing outputs mutably); otherwise element-wise bounds-checked loads
/// (a read past the end panics, i.e. traps).
#[inline(always)]
pub fn load_quad<T: Word32>(s: &[T], i: usize) -> [T; 4] {
    if let Some(end) = i.checked_add(4)
        && end <= s.len()
    {
        // SAFETY: `i < len`, so the pointer stays inside the slice.
        let p = unsafe { s.as_ptr().add(i) };
        if (p as usize).is_multiple_of(16) {
            // SAFETY: 16 bytes from `p` are in bounds, aligned, in global memory (kernel inputs
            // are device allocations) and not written by any thread during this launch.
            return unsafe { ld_nc_v4(p) };
        }
    }
    let (a, b, c, d) = load_quad_unaligned(s, i);
    [a, b, c, d]
}

/// The slow path of [`load_quad`], kept out of line so the fast path stays one vector load. It
/// returns a tuple, which the PTX ABI passes back in registers: an array would be returned
/// through a stack slot and give every caller a stack frame.
#[cold]
#[inline(never)]
fn load_quad_unaligned<T: Copy>(s: &[T], i: usize) -> (T, T, T, T) {
    (s[i], s[i + 1], s[i + 2], s[i + 3])
}

/// Stores `v` with one `st.global.v4` (the [`Quad`] is 16-byte aligned by type).
#[inline(always)]
pub fn store_quad<T: Copy>(dst: &mut Quad<T>, v: [T; 4]) {
    dst.0 = v;
}

/// An input slice viewed as 16-byte groups of four elements plus the scalar tail, when its start
/// is 16-byte aligned (always true for a whole device allocation). Reading a group is one
/// `ld.global.nc.v4` with only a bounds check, so loops over it carry no alignment branches.
#[derive(Clone, Copy)]
pub struct Quads<'a, T> {
    quads: &'a [Quad<T>],
    tail: &'a [T],
}

impl<'a, T: Word32> Quads<'a, T> {
    /// `None` when `s` does not start on a 16-byte boundary.
    #[inline(always)]
    pub fn new(s: &'a [T]) -> Option<Quads<'a, T>> {
        if !(s.as_ptr() as usize).is_multiple_of(16) {
            return None;
        }
        let n = s.len() / 4;
        // SAFETY: the start is 16-byte aligned, `Quad<T>` is four `T`s with 16-byte alignment
        // (T is a 4-byte word), and `n * 4 <= len`.
        let quads = unsafe { core::slice::from_raw_parts(s.as_ptr() as *const Quad<T>, n) };
        Some(Quads {
            quads,
            tail: &s[n * 4..],
        })
    }

    /// Number of whole groups.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.quads.len()
    }

    /// True when there is no whole group.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.quads.is_empty()
    }

    /// Group `q` (elements `4q .. 4q + 4`), bounds-checked.
    #[inline(always)]
    pub fn get(&self, q: usize) -> [T; 4] {
        let p = &self.quads[q] as *const Quad<T> as *const T;
        // SAFETY: `p` points to an in-bounds, 16-byte aligned group of a kernel input, which no
        // thread writes during the launch.
        unsafe { ld_nc_v4(p) }
    }

    /// The elements after the last whole group (fewer than four).
    #[inline(always)]
    pub fn tail(&self) -> &'a [T] {
        self.tail
    }
}

/// Sixteen bytes, 16-byte aligned: the unit of a vector access (`ld/st.global.v4.b32`) for any
/// element type (four 4-byte or eight 2-byte elements).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct Packet(pub [u32; 4]);

impl Packet {
    /// Stores four words with one 16-byte vector store (`st.v4.b32`). An assignment to `.0`
    /// may be split into narrower stores when the words come from several control paths.
    #[inline(always)]
    pub fn set(&mut self, w: [u32; 4]) {
        // SAFETY: `self` is a valid, 16-byte aligned, exclusively borrowed packet.
        unsafe {
            crate::__device_asm!(
                "st.v4.b32 [{p}], {{{a}, {b}, {c}, {d}}};",
                p = in(reg64) self as *mut Packet,
                a = in(reg32) w[0], b = in(reg32) w[1], c = in(reg32) w[2], d = in(reg32) w[3],
                options(nostack, preserves_flags),
            )
        }
    }
}

impl Packet {
    /// Stores four words as [`Packet::set`], not allocating in L1 and with an L2 eviction
    /// policy (`st.L1::no_allocate.L2::cache_hint.v4.b32`; a generic address, so valid wherever
    /// the packet lives).
    #[inline(always)]
    pub fn set_hinted(&mut self, w: [u32; 4], policy: L2Policy) {
        // SAFETY: `self` is a valid, 16-byte aligned, exclusively borrowed packet (a generic
        // store); the policy only steers L2 replacement.
        unsafe {
            crate::__device_asm!(
                "st.L1::no_allocate.L2::cache_hint.v4.b32 [{p}], {{{a}, {b}, {c}, {d}}}, {h};",
                p = in(reg64) self as *mut Packet,
                a = in(reg32) w[0], b = in(reg32) w[1], c = in(reg32) w[2], d = in(reg32) w[3],
                h = in(reg64) policy.0,
                options(nostack, preserves_flags),
            )
        }
    }
}

/// Element `i` of an input slice through the read-only data path (`ld.global.nc.b32`),
/// bounds-checked. Plain indexing of a `&[T]` may compile to a generic load.
#[inline(always)]
pub fn load_nc<T: Word32>(s: &[T], i: usize) -> T {
    let p = &s[i] as *const T;
    let v: u32;
    // SAFETY: `p` points into a kernel input (global memory), which no thread writes during the
    // launch.
    unsafe {
        crate::__device_asm!("ld.global.nc.b32 {v}, [{p}];", v = out(reg32) v, p = in(reg64) p,
            options(readonly, nostack, preserves_flags, pure))
    };
    T::from_bits(v)
}

/// An input slice viewed as 16-byte [`Packet`]s plus the elements after the last whole one,
/// when its start is 16-byte aligned: reading a packet is one `ld.global.nc.v4.b32` with only a
/// bounds check. The element-type-independent form of [`Quads`].
#[derive(Clone, Copy)]
pub struct Packets<'a, T> {
    packets: &'a [Packet],
    tail: &'a [T],
}

impl<'a, T: Copy> Packets<'a, T> {
    /// Elements per packet (16 bytes / element size).
    pub const PER: usize = 16 / core::mem::size_of::<T>();

    /// `None` when `s` does not start on a 16-byte boundary.
    #[inline(always)]
    pub fn new(s: &'a [T]) -> Option<Packets<'a, T>> {
        if !(s.as_ptr() as usize).is_multiple_of(16)
            || !16usize.is_multiple_of(core::mem::size_of::<T>())
        {
            return None;
        }
        let n = s.len() / Self::PER;
        // SAFETY: the start is 16-byte aligned and `n` whole packets lie inside the slice.
        let packets = unsafe { core::slice::from_raw_parts(s.as_ptr() as *const Packet, n) };
        Some(Packets {
            packets,
            tail: &s[n * Self::PER..],
        })
    }

    /// Number of whole packets.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Whether there is no whole packet.
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Packet `q` (elements `q·PER ..`), bounds-checked, as raw words.
    #[inline(always)]
    pub fn get(&self, q: usize) -> [u32; 4] {
        let p = &self.packets[q] as *const Packet as *const u32;
        // SAFETY: an in-bounds, 16-byte aligned packet of a kernel input, which no thread
        // writes during the launch.
        unsafe { ld_nc_v4::<u32>(p) }
    }

    /// Packet `q` as [`Packets::get`], with an L2 eviction policy (and no L1 allocation).
    #[inline(always)]
    pub fn get_hinted(&self, q: usize, policy: L2Policy) -> [u32; 4] {
        let p = &self.packets[q] as *const Packet as *const u32;
        // SAFETY: an in-bounds, 16-byte aligned packet of a kernel input, which no thread
        // writes during the launch.
        unsafe { ld_nc_v4_hinted(p, policy) }
    }

    /// The elements after the last whole packet (fewer than `PER`).
    #[inline(always)]
    pub fn tail(&self) -> &'a [T] {
        self.tail
    }
}
