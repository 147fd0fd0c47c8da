//! The `earshot` command line: argument parsing and wiring only.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// glibc hands allocations above 128 KiB to mmap and returns them on free, so
/// every training step re-faults its tensors' pages (perf: ~25% of a conv AE
/// step in the kernel). Keeping freed memory in the heap removes that.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    const LIMIT: libc::c_int = 1 << 30;
    // SAFETY: mallopt only changes allocator tunables; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LIMIT);
        libc::mallopt(libc::M_TRIM_THRESHOLD, LIMIT);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}

fn main() -> ExitCode {
    keep_freed_memory();
    let args = cli::Cli::parse();
    cli::fix_process_settings(&args);
    cli::init_logging(&args);
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
