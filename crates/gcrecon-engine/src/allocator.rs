//! The global allocator of the binaries built with the `jemalloc` feature
//! (the `gcrecon` binary, and the bench measuring its code in-process).
//!
//! A plan of many resources allocates and frees millions of small maps;
//! jemalloc does that in about two thirds of the CPU time of the system
//! allocator. One arena instead of one per thread keeps the peak memory
//! low: gcrecon's work is one plan at a time, the other threads only wait
//! on the network. Freed pages stay with the process for reuse and are not
//! given back to the system: gcrecon is a command that ends, and a page
//! given back is faulted in again by the next allocation. Giving them
//! back at once cost a plan of 10,000 resources a fifth of its CPU, and
//! giving them back after a second still cost one of 100,000 a tenth to a
//! fifth, a cost that grows with the plan. For the same reason jemalloc
//! asks for transparent huge pages (`thp:always`; granted where the
//! system's setting is `madvise` or `always`): one fault per 2 MiB instead
//! of one per 4 KiB took a sixth of the page faults and a tenth of the CPU
//! of a 10,000-resource plan, for 8 MB more peak memory. Those settings
//! are built into jemalloc (`JEMALLOC_SYS_WITH_MALLOC_CONF` in
//! `.cargo/config.toml`);
//! `_RJEM_MALLOC_CONF` in the environment overrides them. Measured in
//! docs/performance.md.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
