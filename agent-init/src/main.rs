//! The agent-init binary: the allocator, then the library's `main`.

/// musl's allocator is small but slow with the many small allocations of
/// argument parsing and configuration loading; dlmalloc cuts startup time
/// (measured by `make bench`) at a few KiB of code.
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> std::process::ExitCode {
    agent_init::main()
}
