//! Thread-block clusters (sm_90): indices, the cluster-wide barrier, and distributed shared
//! memory (addresses of another CTA's shared memory in the same cluster).
//!
//! A cluster is a group of CTAs (up to 8 portably, 16 with the non-portable attribute) that the
//! hardware co-schedules on one GPC; they can read, write and arrive on each other's shared
//! memory. A kernel runs as clusters when it is launched with a cluster dimension
//! (`cuLaunchKernelEx` with `CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION`); otherwise every CTA is a
//! cluster of one and these functions still work (rank 0 of 1).

use crate::index::Dim3;

macro_rules! sreg {
    ($(#[$doc:meta])* $name:ident, $reg:literal) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name() -> u32 {
            let v: u32;
            // SAFETY: reads a special register.
            unsafe {
                crate::__device_asm!(concat!("mov.u32 {v}, ", $reg, ";"), v = out(reg32) v,
                    options(pure, nomem, nostack, preserves_flags));
            }
            v
        }
    };
}

sreg!(
    /// This CTA's rank in its cluster (`%cluster_ctarank`), 0 .. [`cta_count`].
    cta_rank,
    "%cluster_ctarank"
);
sreg!(
    /// CTAs per cluster (`%cluster_nctarank`).
    cta_count,
    "%cluster_nctarank"
);
sreg!(
    /// `%clusterid.x`: this cluster's x index in the grid of clusters.
    cluster_id_x,
    "%clusterid.x"
);
sreg!(
    /// `%clusterid.y`.
    cluster_id_y,
    "%clusterid.y"
);
sreg!(
    /// `%clusterid.z`.
    cluster_id_z,
    "%clusterid.z"
);
sreg!(
    /// `%nclusterid.x`: clusters along x in the grid.
    ncluster_x,
    "%nclusterid.x"
);
sreg!(
    /// `%nclusterid.y`.
    ncluster_y,
    "%nclusterid.y"
);
sreg!(
    /// `%nclusterid.z`.
    ncluster_z,
    "%nclusterid.z"
);
sreg!(
    /// `%cluster_ctaid.x`: this CTA's x position inside its cluster.
    cta_x,
    "%cluster_ctaid.x"
);
sreg!(
    /// `%cluster_ctaid.y`.
    cta_y,
    "%cluster_ctaid.y"
);
sreg!(
    /// `%cluster_ctaid.z`.
    cta_z,
    "%cluster_ctaid.z"
);
sreg!(
    /// `%cluster_nctaid.x`: CTAs along x in a cluster.
    ncta_x,
    "%cluster_nctaid.x"
);
sreg!(
    /// `%cluster_nctaid.y`.
    ncta_y,
    "%cluster_nctaid.y"
);
sreg!(
    /// `%cluster_nctaid.z`.
    ncta_z,
    "%cluster_nctaid.z"
);

/// This cluster's index in the grid of clusters (`%clusterid`).
#[inline(always)]
pub fn cluster_id() -> Dim3 {
    Dim3 {
        x: cluster_id_x(),
        y: cluster_id_y(),
        z: cluster_id_z(),
    }
}

/// The grid's size in clusters (`%nclusterid`).
#[inline(always)]
pub fn cluster_count() -> Dim3 {
    Dim3 {
        x: ncluster_x(),
        y: ncluster_y(),
        z: ncluster_z(),
    }
}

/// This CTA's position inside its cluster (`%cluster_ctaid`).
#[inline(always)]
pub fn cta_in_cluster() -> Dim3 {
    Dim3 {
        x: cta_x(),
        y: cta_y(),
        z: cta_z(),
    }
}

/// The cluster's shape in CTAs (`%cluster_nctaid`).
#[inline(always)]
pub fn cluster_dim() -> Dim3 {
    Dim3 {
        x: ncta_x(),
        y: ncta_y(),
        z: ncta_z(),
    }
}

/// `barrier.cluster.arrive.release.aligned`: this thread arrived at the cluster barrier; its
/// earlier memory accesses are released to the cluster. Pair with [`wait`]. Every thread of
/// every CTA of the cluster must arrive, warp-converged (`.aligned`).
#[inline(always)]
pub fn arrive() {
    // SAFETY: a barrier has no memory-safety preconditions (divergence deadlocks).
    unsafe {
        crate::__device_asm!(
            "barrier.cluster.arrive.release.aligned;",
            options(nostack, preserves_flags)
        );
    }
}

/// `barrier.cluster.arrive.relaxed.aligned`: as [`arrive`] without ordering memory (for a
/// barrier that only synchronises, e.g. before a cheap wait).
#[inline(always)]
pub fn arrive_relaxed() {
    // SAFETY: as `arrive`.
    unsafe {
        crate::__device_asm!(
            "barrier.cluster.arrive.relaxed.aligned;",
            options(nostack, preserves_flags)
        );
    }
}

/// `barrier.cluster.wait.acquire.aligned`: waits until every thread of the cluster arrived;
/// memory released by their arrivals is visible afterwards.
#[inline(always)]
pub fn wait() {
    // SAFETY: as `arrive`.
    unsafe {
        crate::__device_asm!(
            "barrier.cluster.wait.acquire.aligned;",
            options(nostack, preserves_flags)
        );
    }
}

/// [`arrive`] then [`wait`]: a full cluster-wide barrier. Also the way to keep a CTA's shared
/// memory alive until the other CTAs stopped using it (call it before exiting).
#[inline(always)]
pub fn sync() {
    arrive();
    wait();
}

/// `mapa.shared::cluster.u32`: the address, in the cluster's shared window, of the shared
/// variable at offset `addr` in CTA `rank` of this cluster. Use it with `.shared::cluster`
/// instructions ([`ld_u32`], [`st_u32`], remote mbarrier arrivals, multicast copies).
#[inline(always)]
pub fn map_shared(addr: u32, rank: u32) -> u32 {
    let r: u32;
    // SAFETY: address arithmetic only; nothing is accessed.
    unsafe {
        crate::__device_asm!(
            "mapa.shared::cluster.u32 {r}, {a}, {k};",
            r = out(reg32) r, a = in(reg32) addr, k = in(reg32) rank,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    r
}

/// Loads a `u32` from distributed shared memory (`ld.shared::cluster.u32`).
///
/// # Safety
/// `addr` comes from [`map_shared`] of a 4-byte aligned shared variable of a CTA of this
/// cluster that is alive, and writes to it are ordered before this load (a cluster barrier).
#[inline(always)]
pub unsafe fn ld_u32(addr: u32) -> u32 {
    let v: u32;
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!(
            "ld.shared::cluster.u32 {v}, [{a}];",
            v = out(reg32) v, a = in(reg32) addr,
            options(readonly, nostack, preserves_flags),
        );
    }
    v
}

/// Stores a `u32` to distributed shared memory (`st.shared::cluster.u32`).
///
/// # Safety
/// As [`ld_u32`], and no other thread accesses the word concurrently.
#[inline(always)]
pub unsafe fn st_u32(addr: u32, v: u32) {
    // SAFETY: the caller's contract.
    unsafe {
        crate::__device_asm!(
            "st.shared::cluster.u32 [{a}], {v};",
            v = in(reg32) v, a = in(reg32) addr,
            options(nostack, preserves_flags),
        );
    }
}
