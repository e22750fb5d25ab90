//! Several GPUs: enumeration, peer access, and splitting one job across all of them.
//!
//! Each GPU has its own context; work for it runs on its own host thread (contexts bind per
//! thread, and one thread per GPU keeps every GPU fed). Results are gathered with peer copies
//! (`cuMemcpyPeerAsync`), which go directly over NVLink/PCIe when peer access is enabled and
//! are staged through the host by the driver otherwise, so the same code runs on any set of
//! GPUs, including one.
use crate::gpu::{DeviceProps, Gpu, device_handle, read_props};
use crate::memory::{DeviceCopy, DeviceSlice};
use crate::result::{Call, CudaError, Result};
use crate::stream::Stream;
use crate::sys;
use std::ops::Range;

/// One device as enumeration reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The device's properties.
    pub props: DeviceProps,
    /// Ordinals of the other devices this one can access directly (peer access possible).
    pub peers: Vec<u32>,
}

impl DeviceInfo {
    /// `0: NVIDIA H200, sm_90, 132 SMs, 140.4 GiB, PCI 0000:19:00.0, peers [1, 2]`.
    pub fn summary(&self) -> String {
        let p = &self.props;
        format!(
            "{}: {}, sm_{}{}, {} SMs, {:.1} GiB, PCI {}, peers {:?}",
            p.ordinal,
            p.name,
            p.major,
            p.minor,
            p.sm_count,
            p.total_memory as f64 / (1u64 << 30) as f64,
            p.pci_bus_id,
            self.peers
        )
    }
}

/// Can `dev` access memory of `peer` directly?
pub fn can_access_peer(dev: u32, peer: u32) -> Result<bool> {
    if dev == peer {
        return Ok(false);
    }
    let d = device_handle(dev)?;
    let p = device_handle(peer)?;
    let mut v = 0i32;
    // SAFETY: valid out-pointer and device handles.
    unsafe { sys::cuDeviceCanAccessPeer(&mut v, d, p) }.call("cuDeviceCanAccessPeer")?;
    Ok(v != 0)
}

/// Every device with its name, compute capability, SM count, memory, PCI bus id and peers.
/// Opens no context.
pub fn devices() -> Result<Vec<DeviceInfo>> {
    let n = Gpu::count()?;
    let mut out = Vec::new();
    for i in 0..n {
        let d = device_handle(i)?;
        let mut peers = Vec::new();
        for j in 0..n {
            if can_access_peer(i, j)? {
                peers.push(j);
            }
        }
        out.push(DeviceInfo {
            props: read_props(i, d)?,
            peers,
        });
    }
    Ok(out)
}

/// `n` items split into `parts` contiguous ranges whose sizes differ by at most one (earlier
/// ranges get the extra items). Every range is returned, empty ones included.
pub fn split_ranges(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    let (base, extra) = (n / parts, n % parts);
    let mut start = 0;
    (0..parts)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let r = start..start + len;
            start += len;
            r
        })
        .collect()
}

/// All GPUs of the machine, opened, with peer access enabled between every pair that
/// supports it.
pub struct MultiGpu {
    gpus: Vec<Gpu>,
    /// `peer[i][j]`: GPU i can read/write GPU j's memory directly.
    peer: Vec<Vec<bool>>,
}

impl MultiGpu {
    /// Open every device.
    pub fn all() -> Result<MultiGpu> {
        let n = Gpu::count()?;
        MultiGpu::open(&(0..n).collect::<Vec<_>>())
    }

    /// Open the given devices and enable peer access among them where possible.
    pub fn open(ordinals: &[u32]) -> Result<MultiGpu> {
        let gpus = ordinals
            .iter()
            .map(|&o| Gpu::new(o))
            .collect::<Result<Vec<_>>>()?;
        let mut peer = vec![vec![false; gpus.len()]; gpus.len()];
        for (i, a) in gpus.iter().enumerate() {
            for (j, b) in gpus.iter().enumerate() {
                if i == j || !can_access_peer(a.props().ordinal, b.props().ordinal)? {
                    continue;
                }
                a.bind()?;
                // SAFETY: `b`'s context is live; flags must be 0.
                match crate::result::check(unsafe {
                    sys::cuCtxEnablePeerAccess(b.raw_context(), 0)
                }) {
                    Ok(()) | Err(CudaError::PeerAccessAlreadyEnabled) => {}
                    Err(code) => {
                        return Err(crate::Error::Driver(crate::DriverError {
                            call: "cuCtxEnablePeerAccess",
                            code,
                        }));
                    }
                }
                peer[i][j] = true;
            }
        }
        Ok(MultiGpu { gpus, peer })
    }

    /// The GPUs, in the order they were opened.
    pub fn gpus(&self) -> &[Gpu] {
        &self.gpus
    }

    /// How many GPUs.
    pub fn len(&self) -> usize {
        self.gpus.len()
    }

    /// True when no GPU was opened.
    pub fn is_empty(&self) -> bool {
        self.gpus.is_empty()
    }

    /// Whether GPU `i` (index into [`MultiGpu::gpus`]) accesses GPU `j` directly.
    pub fn peer_enabled(&self, i: usize, j: usize) -> bool {
        self.peer[i][j]
    }

    /// Split `n` items across all GPUs and run `job(index, gpu, range)` for each on its own
    /// thread (the context is bound there first). Results come back in GPU order; the first
    /// error wins.
    pub fn split<R: Send>(
        &self,
        n: usize,
        job: impl Fn(usize, &Gpu, Range<usize>) -> Result<R> + Sync,
    ) -> Result<Vec<R>> {
        let ranges = split_ranges(n, self.gpus.len());
        let job = &job;
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .gpus
                .iter()
                .zip(ranges)
                .enumerate()
                .map(|(i, (gpu, r))| {
                    s.spawn(move || {
                        gpu.bind()?;
                        job(i, gpu, r)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a GPU worker thread panicked"))
                .collect()
        })
    }
}

/// Queue a copy of `src` (memory of `src_gpu`) into `dst` (memory of `dst_gpu`) on `stream`
/// (a stream of either GPU). Direct when peer access is enabled, staged by the driver
/// otherwise; also correct when both are the same GPU.
pub fn copy_peer_async<T: DeviceCopy>(
    stream: &Stream,
    dst: &mut DeviceSlice<T>,
    dst_gpu: &Gpu,
    src: &DeviceSlice<T>,
    src_gpu: &Gpu,
) -> Result<()> {
    crate::check_same_len("copy_peer_async", &[("dst", dst.len()), ("src", src.len())])?;
    if src.is_empty() {
        return Ok(());
    }
    // SAFETY: equal lengths; each pointer belongs to the context passed with it.
    unsafe {
        sys::cuMemcpyPeerAsync(
            dst.device_ptr(),
            dst_gpu.raw_context(),
            src.device_ptr(),
            src_gpu.raw_context(),
            src.size_bytes(),
            stream.raw(),
        )
    }
    .call("cuMemcpyPeerAsync")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_ranges_cover_everything_once() {
        for &(n, parts) in &[
            (0, 1),
            (0, 3),
            (1, 4),
            (10, 3),
            (1 << 20, 8),
            (7, 7),
            (5, 0),
        ] {
            let r = split_ranges(n, parts);
            assert_eq!(r.len(), parts.max(1));
            assert_eq!(r.first().unwrap().start, 0);
            assert_eq!(r.last().unwrap().end, n);
            assert!(r.windows(2).all(|w| w[0].end == w[1].start));
            let lens: Vec<_> = r.iter().map(|x| x.len()).collect();
            assert!(
                lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1,
                "{lens:?}"
            );
        }
        assert_eq!(split_ranges(10, 3), vec![0..4, 4..7, 7..10]);
    }
}
