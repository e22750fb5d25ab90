//! Loading a kernel module: picking the image that fits the device.
use crate::context::Context;
use crate::gpu::{DeviceProps, Gpu};
use crate::launch::KernelFn;
use crate::result::{Call, CudaError, DriverError, Error, Result, check};
use crate::sys;
use std::ffi::CString;
use std::sync::Arc;

/// One compiled form of a module for one architecture, embedded by the builder.
#[derive(Clone, Copy, Debug)]
pub struct ModuleImage {
    /// `sm_XY` (or `sm_XYa`).
    pub arch: &'static str,
    /// The PTX text.
    pub ptx: &'static str,
    /// Machine code from `ptxas`, when it was available at build time.
    pub cubin: Option<&'static [u8]>,
}

impl ModuleImage {
    /// `(major, minor, arch-specific)` from `sm_XY[a]`.
    pub fn capability(&self) -> Option<(u32, u32, bool)> {
        let d = self.arch.strip_prefix("sm_")?;
        let specific = d.ends_with('a') || d.ends_with('f');
        let d = d.trim_end_matches(['a', 'f']);
        let n: u32 = d.parse().ok()?;
        Some((n / 10, n % 10, specific))
    }
}

/// Which image to load on a device of compute capability `cc`, best first: cubins built for
/// exactly this capability (the arch-specific one, e.g. sm_90a, before the portable one: it
/// carries the same kernels plus the arch-only ones), then PTX for the highest capability not
/// above it (the driver compiles PTX forward, never backward).
pub fn rank_images(images: &[ModuleImage], cc: (u32, u32)) -> Vec<(ModuleImage, bool)> {
    let mut out: Vec<(ModuleImage, bool)> = images
        .iter()
        .filter(|im| {
            im.cubin.is_some() && im.capability().is_some_and(|(ma, mi, _)| (ma, mi) == cc)
        })
        .map(|im| (*im, true))
        .collect();
    out.sort_by_key(|(im, _)| std::cmp::Reverse(im.capability()));
    let mut ptx: Vec<ModuleImage> = images
        .iter()
        .filter(|im| {
            im.capability()
                .is_some_and(|(ma, mi, specific)| (ma, mi) <= cc && (!specific || (ma, mi) == cc))
        })
        .copied()
        .collect();
    ptx.sort_by_key(|im| std::cmp::Reverse(im.capability()));
    out.extend(ptx.into_iter().map(|im| (im, false)));
    out
}

/// A loaded module (`cuModuleUnload` on drop). Its kernels keep it alive; it keeps its context
/// alive.
pub struct Module {
    name: String,
    raw: sys::CUmodule,
    loaded: String,
    /// The architecture of the loaded image (`sm_90a`); empty for hand-written PTX.
    loaded_arch: &'static str,
    props: DeviceProps,
    /// The context the module lives in: launches bind it on whichever thread they run.
    ctx: Arc<Context>,
}

// SAFETY: a CUmodule is a driver handle valid in its context from any thread; the runtime binds
// the context before every use.
unsafe impl Send for Module {}
// SAFETY: as above; the handle is never mutated.
unsafe impl Sync for Module {}

/// `cuModuleLoadData` of a PTX text (NUL-terminated) or a cubin.
fn load_data(image: &[u8]) -> std::result::Result<sys::CUmodule, CudaError> {
    let mut m: sys::CUmodule = std::ptr::null_mut();
    // SAFETY: valid out-pointer; `image` is a NUL-terminated PTX text or an ELF cubin, which
    // the driver reads during the call only.
    check(unsafe { sys::cuModuleLoadData(&mut m, image.as_ptr() as *const std::ffi::c_void) })?;
    Ok(m)
}

impl Module {
    /// Load the best image of `images` for `gpu`.
    pub fn load(gpu: &Gpu, name: &str, images: &[ModuleImage]) -> Result<Module> {
        gpu.bind()?;
        let props = gpu.props().clone();
        let cc = props.compute_capability();
        let ranked = rank_images(images, cc);
        if ranked.is_empty() {
            return Err(Error::NoImage {
                module: name.to_string(),
                major: cc.0,
                minor: cc.1,
                built: images.iter().map(|i| i.arch).collect::<Vec<_>>().join(", "),
            });
        }
        let mut last_err = None;
        for (im, cubin) in ranked {
            let loaded = match (cubin, im.cubin) {
                (true, Some(bytes)) => load_data(bytes),
                _ => {
                    let ptx = CString::new(im.ptx).expect("PTX text has no NUL bytes");
                    load_data(ptx.as_bytes_with_nul())
                }
            };
            match loaded {
                Ok(raw) => {
                    return Ok(Module {
                        name: name.to_string(),
                        raw,
                        loaded: format!("{} {}", im.arch, if cubin { "cubin" } else { "PTX" }),
                        loaded_arch: im.arch,
                        props,
                        ctx: gpu.context().clone(),
                    });
                }
                // A cubin from a newer ptxas than the driver can fail; PTX still JIT-compiles.
                Err(e) => last_err = Some(e),
            }
        }
        let code = last_err.expect("at least one image was tried");
        Err(Error::Driver(DriverError {
            call: "cuModuleLoadData",
            code,
        }))
    }

    /// Load a module from PTX text written by hand (tests, tools): no image selection, the
    /// driver JIT-compiles it for `gpu` or the load fails with its error.
    pub fn from_ptx(gpu: &Gpu, name: &str, ptx: &str) -> Result<Module> {
        gpu.bind()?;
        let text = CString::new(ptx).map_err(|_| Error::InvalidArgument {
            op: "Module::from_ptx".into(),
            reason: "PTX text contains a NUL byte".into(),
        })?;
        let raw = load_data(text.as_bytes_with_nul()).map_err(|code| {
            Error::Driver(DriverError {
                call: "cuModuleLoadData",
                code,
            })
        })?;
        Ok(Module {
            name: name.to_string(),
            raw,
            loaded: "hand-written PTX".into(),
            loaded_arch: "",
            props: gpu.props().clone(),
            ctx: gpu.context().clone(),
        })
    }

    /// The module's name (its kernel crate's).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The context this module was loaded in.
    pub fn context(&self) -> &Arc<Context> {
        &self.ctx
    }

    /// The raw module handle.
    pub fn raw(&self) -> sys::CUmodule {
        self.raw
    }

    /// Which image was loaded, e.g. `sm_90 cubin`.
    pub fn loaded_image(&self) -> &str {
        &self.loaded
    }

    /// Look up a kernel by its entry name.
    pub fn function(self: &Arc<Self>, name: &'static str) -> Result<KernelFn> {
        let entry = CString::new(name).map_err(|_| Error::InvalidArgument {
            op: "Module::function".into(),
            reason: format!("kernel name {name:?} contains a NUL byte"),
        })?;
        self.ctx.bind()?;
        let mut f: sys::CUfunction = std::ptr::null_mut();
        // SAFETY: valid out-pointer, live module, NUL-terminated name.
        unsafe { sys::cuModuleGetFunction(&mut f, self.raw, entry.as_ptr()) }
            .call("cuModuleGetFunction")?;
        KernelFn::new(f, name, self.clone(), &self.props)
    }

    /// The architecture-specific kernel `name` built for `arch` only (`#[kernel(arch = ..)]`):
    /// looked up when the loaded image is `arch`'s, otherwise recorded as unavailable, so the
    /// module still loads on other devices and only launching this kernel fails, with
    /// [`Error::KernelUnavailable`].
    pub fn arch_function(
        self: &Arc<Self>,
        name: &'static str,
        arch: &'static str,
    ) -> Result<ArchKernel> {
        if self.loaded_arch == arch {
            return Ok(ArchKernel(Ok(self.function(name)?)));
        }
        Ok(ArchKernel::absent(
            name,
            arch,
            self.props.compute_capability(),
            self.loaded.clone(),
        ))
    }
}

/// Why an architecture-specific kernel is absent on this device.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Absent {
    kernel: &'static str,
    arch: &'static str,
    cc: (u32, u32),
    loaded: String,
}

/// A kernel that exists only in one architecture's image: the loaded function, or why it is
/// absent on this device (the typed launchers return that error when it is launched).
pub struct ArchKernel(std::result::Result<KernelFn, Absent>);

impl ArchKernel {
    /// The loaded function, or [`Error::KernelUnavailable`] naming the kernel, the
    /// architecture it needs, the device and the image it loaded.
    pub fn get(&self) -> Result<&KernelFn> {
        self.0.as_ref().map_err(|a| Error::KernelUnavailable {
            kernel: a.kernel.to_string(),
            arch: a.arch.to_string(),
            major: a.cc.0,
            minor: a.cc.1,
            loaded: a.loaded.clone(),
        })
    }

    /// Whether the kernel is in the loaded image.
    pub fn is_available(&self) -> bool {
        self.0.is_ok()
    }

    /// The kernel `kernel`, built for `arch` only, as absent on a device of capability `cc`
    /// that loaded the image `loaded` (e.g. `sm_80 PTX`).
    pub fn absent(
        kernel: &'static str,
        arch: &'static str,
        cc: (u32, u32),
        loaded: impl Into<String>,
    ) -> ArchKernel {
        ArchKernel(Err(Absent {
            kernel,
            arch,
            cc,
            loaded: loaded.into(),
        }))
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        let _ = self.ctx.bind();
        // SAFETY: loaded once, unloaded once; every kernel of the module held an Arc of it and
        // is gone.
        let _ = unsafe { sys::cuModuleUnload(self.raw) };
    }
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name)
            .field("loaded", &self.loaded)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn im(arch: &'static str, cubin: bool) -> ModuleImage {
        ModuleImage {
            arch,
            ptx: "",
            cubin: cubin.then_some(&[1u8][..]),
        }
    }

    #[test]
    fn picks_exact_cubin_then_best_ptx() {
        let images = [im("sm_80", true), im("sm_90", true), im("sm_86", false)];
        let r = rank_images(&images, (9, 0));
        let names: Vec<_> = r.iter().map(|(i, c)| (i.arch, *c)).collect();
        assert_eq!(
            names,
            vec![
                ("sm_90", true),
                ("sm_90", false),
                ("sm_86", false),
                ("sm_80", false)
            ]
        );
        // An sm_89 device: no exact cubin; PTX of 8.6 and 8.0 JIT forward.
        let r = rank_images(&images, (8, 9));
        let names: Vec<_> = r.iter().map(|(i, c)| (i.arch, *c)).collect();
        assert_eq!(names, vec![("sm_86", false), ("sm_80", false)]);
        // Nothing runs on an older device.
        assert!(rank_images(&images, (7, 5)).is_empty());
        // Arch-specific (sm_90a) images run only on exactly 9.0.
        let a = [im("sm_90a", false)];
        assert_eq!(rank_images(&a, (9, 0)).len(), 1);
        assert!(rank_images(&a, (10, 0)).is_empty());
        // With both, an H100/H200 takes the sm_90a cubin (it has the Hopper-only kernels too).
        let both = [im("sm_90", true), im("sm_90a", true)];
        let names: Vec<_> = rank_images(&both, (9, 0))
            .iter()
            .map(|(i, c)| (i.arch, *c))
            .collect();
        assert_eq!(
            names,
            vec![
                ("sm_90a", true),
                ("sm_90", true),
                ("sm_90a", false),
                ("sm_90", false)
            ]
        );
    }

    /// The fallback an sm_80/sm_89 device takes (not run on such hardware: the selection logic
    /// only): the portable image, and the Hopper-only kernels absent with an error naming them.
    #[test]
    fn older_devices_take_the_portable_image_and_report_hopper_kernels_absent() {
        let images = [im("sm_80", false), im("sm_90", true), im("sm_90a", true)];
        for (cc, want) in [((8, 0), "sm_80"), ((8, 9), "sm_80"), ((9, 0), "sm_90a")] {
            let first = rank_images(&images, cc)[0].0.arch;
            assert_eq!(first, want, "device {cc:?}");
            // What `Module::arch_function` decides from the loaded image's architecture.
            let hopper_present = first == "sm_90a";
            assert_eq!(hopper_present, cc == (9, 0));
        }
        // sm_90a images never go to another capability, even a newer one.
        assert!(
            rank_images(&images, (10, 0))
                .iter()
                .all(|(i, _)| i.arch != "sm_90a")
        );
        let k = ArchKernel::absent("hgemm__bf16_bf16_bf16", "sm_90a", (8, 0), "sm_80 PTX");
        assert!(!k.is_available());
        let e = k.get().err().expect("absent");
        assert!(matches!(e, Error::KernelUnavailable { .. }));
        let msg = e.to_string();
        for part in [
            "hgemm__bf16_bf16_bf16",
            "sm_90a",
            "compute capability 8.0",
            "sm_80 PTX",
            "portable kernel",
        ] {
            assert!(msg.contains(part), "{msg}");
        }
    }
}
