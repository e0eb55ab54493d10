//! The agent-init binary: the allocator, then the library's `main`.

/// musl's allocator is small but slow with the many small allocations of
/// argument parsing and configuration loading: dlmalloc behind a spin lock
/// (see `Allocator`) cuts start-up (measured by `make bench`) at a few KiB
/// of code.
#[global_allocator]
static ALLOCATOR: agent_init::Allocator = agent_init::Allocator::new();

fn main() -> std::process::ExitCode {
    agent_init::main()
}
