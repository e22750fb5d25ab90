//! Helpers shared by gpukit's test suites (a dev-dependency only; the library does not ship
//! them): CPU references and seeded random inputs ([`reference`](mod@reference)), the GEMM reference and its
//! error measure ([`gemm`]), and running part of a test in a child process ([`child`]).
pub mod child;
pub mod gemm;
pub mod reference;
