//! Progress on a terminal for long operations (apply, import): `indicatif` bars on
//! standard error, hidden when standard error is not a terminal (CI, pipes, tests).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

fn target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar of `len` steps, labelled `what`.
pub(crate) fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target());
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work of unknown length.
pub(crate) fn spinner(what: String) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target());
    bar.set_message(what);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
