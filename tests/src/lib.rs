//! Cross-crate and cross-process integration tests of shmbus; the tests are in `tests/`.
//! Message types used by several tests live in `fixtures/`.
