//! The driver is loaded at run time: without one, asking for a GPU is an error naming the
//! missing library (one line), and the raw entry points fail cleanly instead of crashing.
use gpukit_runtime::{Error, Gpu, sys};

#[test]
fn a_missing_driver_is_one_clear_error() {
    match sys::load() {
        Err(why) => {
            assert!(why.contains("libcuda.so.1"), "{why}");
            let e = Gpu::new(0).unwrap_err();
            assert!(matches!(e, Error::NoDevice(_)), "{e:?}");
            let msg = e.to_string();
            assert!(
                msg.starts_with(
                    "no CUDA device: cannot load the NVIDIA driver library (libcuda.so.1"
                ),
                "{msg}"
            );
            assert!(msg.ends_with("is the NVIDIA driver installed?"), "{msg}");
            assert_eq!(msg.lines().count(), 1, "{msg}");
            assert!(Gpu::count().is_err());
            // SAFETY: cuInit takes no pointers.
            let r = unsafe { sys::cuInit(0) };
            assert_eq!(r, sys::CUresult::CUDA_ERROR_NOT_INITIALIZED);
        }
        Ok(()) => {
            // A driver library is present: every entry point the runtime declares resolves
            // (they all exist since CUDA 12.0), and counting devices either works or says why.
            assert_eq!(sys::missing_entry_points(), Vec::<&str>::new());
            if let Err(e) = Gpu::count() {
                assert!(matches!(e, Error::NoDevice(_)), "{e:?}");
            }
        }
    }
}
