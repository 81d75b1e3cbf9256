//! The terminal in console mode (raw, alternate screen) and back, on every exit path:
//! the guard restores it when dropped (quit, error, signal), and the panic hook restores
//! it before the panic message is printed, so the message lands on a usable screen.

use std::io::{stdout, Stdout};
use std::sync::Once;

use anyhow::Context;
use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

pub type ConsoleTerminal = Terminal<CrosstermBackend<Stdout>>;

/// Owns the terminal while the console runs.
pub struct TerminalGuard {
    terminal: ConsoleTerminal,
}

impl TerminalGuard {
    /// Raw mode and the alternate screen; the panic hook is installed first, so even a
    /// panic during set-up leaves the terminal as it was.
    pub fn enter() -> anyhow::Result<Self> {
        install_panic_hook();
        enable_raw_mode().context("cannot put the terminal in raw mode (is this a terminal?)")?;
        let mut out = stdout();
        if let Err(error) = execute!(out, EnterAlternateScreen, Hide) {
            restore();
            return Err(error).context("cannot switch to the alternate screen");
        }
        match Terminal::new(CrosstermBackend::new(out)) {
            Ok(terminal) => Ok(Self { terminal }),
            Err(error) => {
                restore();
                Err(error).context("cannot set up the terminal")
            }
        }
    }

    pub fn terminal(&mut self) -> &mut ConsoleTerminal {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves raw mode and the alternate screen and shows the cursor; harmless when the
/// terminal is already restored, so every path may call it.
pub fn restore() {
    // Errors are ignored: there is nothing better to do on the way out, and the
    // next steps must still run.
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
}

/// Chains a hook that restores the terminal before the previous hook prints the panic.
pub fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// Fault injection for the end-to-end test of the panic path: with this variable set,
/// a debug build of the console panics on purpose once it has drawn its first frame.
pub const PANIC_AFTER_DRAW_ENV: &str = "OPSBOX_DEBUG_PANIC_AFTER_DRAW";

/// Whether this run was asked to panic after its first frame (never in release builds).
pub fn panic_after_draw_requested() -> bool {
    cfg!(debug_assertions) && std::env::var_os(PANIC_AFTER_DRAW_ENV).is_some()
}
