//! An on/off switch for a family of hand-written kernels (CPU, GPU), read
//! once from its environment variable unless set first, so models can be
//! compared against burn's own operations in the same build; a thread may
//! also override it for a while ([`KernelSwitch::scoped`]), so tests that
//! compare the two run beside others in one process.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

thread_local! {
    /// This thread's overrides, innermost last: (switch variable, on).
    static SCOPED: RefCell<Vec<(&'static str, bool)>> = const { RefCell::new(Vec::new()) };
}

/// Removes the innermost override when a scope ends, even by a panic.
struct ScopeEnd;

impl Drop for ScopeEnd {
    fn drop(&mut self) {
        SCOPED.with(|s| s.borrow_mut().pop());
    }
}

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

    /// Runs `f` with the kernels on or off on this thread only; other
    /// threads keep the process-wide setting.
    pub fn scoped<R>(&self, on: bool, f: impl FnOnce() -> R) -> R {
        SCOPED.with(|s| s.borrow_mut().push((self.variable, on)));
        let _end = ScopeEnd;
        f()
    }

    /// Whether the kernels are on (for this thread).
    pub fn is_on(&self) -> bool {
        let scoped = SCOPED.with(|s| {
            let s = s.borrow();
            s.iter()
                .rev()
                .find(|(v, _)| *v == self.variable)
                .map(|(_, on)| *on)
        });
        if let Some(on) = scoped {
            return on;
        }
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
