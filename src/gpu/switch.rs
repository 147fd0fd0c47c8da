//! An on/off switch for a family of hand-written kernels (CPU, GPU), read
//! once from its environment variable unless set first, so models can be
//! compared against burn's own operations in the same build.

use std::sync::atomic::{AtomicU8, Ordering};

/// A process-wide switch, on unless its variable says `off`, `0` or `false`.
pub struct KernelSwitch {
    /// 0: not decided yet, 1: on, 2: off.
    state: AtomicU8,
    variable: &'static str,
}

impl KernelSwitch {
    /// A switch read from `variable` on first use.
    pub const fn new(variable: &'static str) -> Self {
        Self {
            state: AtomicU8::new(0),
            variable,
        }
    }

    /// Turns the kernels on or off for this process.
    pub fn set(&self, on: bool) {
        self.state.store(if on { 1 } else { 2 }, Ordering::Relaxed);
    }

    /// What the environment variable asks for.
    pub fn by_environment(&self) -> bool {
        let off = |v: String| matches!(v.to_ascii_lowercase().as_str(), "off" | "0" | "false");
        !std::env::var(self.variable).is_ok_and(off)
    }

    /// Whether the kernels are on.
    pub fn is_on(&self) -> bool {
        match self.state.load(Ordering::Relaxed) {
            0 => {
                let on = self.by_environment();
                self.set(on);
                on
            }
            state => state == 1,
        }
    }
}
