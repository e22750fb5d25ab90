//! Helpers shared by gpukit's test suites (a dev-dependency only; the library does not ship
//! them): CPU references and seeded random inputs ([`reference`]), and running part of a test in
//! a child process ([`child`]).
pub mod child;
pub mod reference;
