# Source this (bash): it makes the machine able to build and test gpukit, installing what is
# missing. Used by the README's two commands and by .ci/run.
#   1. a kernel toolchain (a rustc with rust-src, to build `core` for nvptx64);
#   2. ptxas on PATH when PyPI's nvidia-cuda-nvcc is installed (optional).
# Nothing about the NVIDIA driver: gpukit-runtime loads libcuda.so.1 at run time, so building
# needs neither the driver nor the CUDA toolkit.
gpukit_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

gpukit_has_rust_src() {
  local sysroot
  sysroot=$("$1" --print sysroot 2>/dev/null) || return 1
  [ -f "$sysroot/lib/rustlib/src/rust/library/core/Cargo.toml" ]
}

# The kernel crates use features stabilised in Rust 1.88 (let chains, core::f32::math); an
# older rustc with rust-src (bookworm's first rustc-web was 1.85) does not do.
gpukit_rustc_new_enough() {
  local v
  v=$("$1" --version 2>/dev/null | awk '{print $2}') || return 1
  [ "$(printf '%s\n' 1.88.0 "$v" | sort -V | head -n 1)" = 1.88.0 ]
}

gpukit_kernel_toolchain() {
  if [ -n "${GPUKIT_RUSTC:-}" ]; then return 0; fi
  if (cd "$gpukit_root" && gpukit_has_rust_src rustc && gpukit_rustc_new_enough rustc); then return 0; fi
  if [ -x /usr/bin/rustc ] && gpukit_has_rust_src /usr/bin/rustc && gpukit_rustc_new_enough /usr/bin/rustc \
     && [ -x /usr/bin/cargo ]; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    # Always refresh the lists: a stale list offers an older rustc-web than the security suite has.
    apt-get update -qq >/dev/null 2>&1 || true
    echo "gpukit: installing the kernel toolchain: apt-get install -y rustc-web cargo-web rust-web-src" >&2
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src >/dev/null \
       && gpukit_rustc_new_enough /usr/bin/rustc; then
      return 0
    fi
  fi
  local tc
  tc=$(cd "$gpukit_root" && rustup show active-toolchain 2>/dev/null | cut -d' ' -f1)
  echo "gpukit: no Rust toolchain with rust-src to build kernels. Install one:" >&2
  echo "  rustup component add rust-src --toolchain ${tc:-<toolchain>}" >&2
  echo "  or, on Debian 12 as root: apt-get install -y rustc-web cargo-web rust-web-src" >&2
  return 1
}

# ptxas (PyPI's nvidia-cuda-nvcc) when installed: the build then assembles and reports on the PTX.
gpukit_ptxas() {
  command -v ptxas >/dev/null 2>&1 && return 0
  local d
  d=$(python3 -c "import nvidia, os; print(os.path.join(nvidia.__path__[0], 'cu13', 'bin'))" 2>/dev/null) || return 0
  if [ -x "$d/ptxas" ]; then export PATH="$PATH:$d"; fi
  return 0
}

gpukit_kernel_toolchain && gpukit_ptxas
