//! Progress on a terminal for long operations (apply, import): `indicatif` bars on
//! standard error, hidden when standard error is not a terminal (CI, pipes, tests).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Standard error when it is a terminal, else nowhere.
fn stderr_target() -> ProgressDrawTarget {
    target(std::io::stderr().is_terminal(), ProgressDrawTarget::stderr)
}

/// `terminal()` when drawing on a terminal, else a hidden target (nothing is drawn).
fn target(on_terminal: bool, terminal: impl FnOnce() -> ProgressDrawTarget) -> ProgressDrawTarget {
    if on_terminal {
        terminal()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A bar of `len` steps, labelled `what`.
pub(crate) fn bar(len: u64, what: &str) -> ProgressBar {
    bar_on(len, what, stderr_target())
}

fn bar_on(len: u64, what: &str, target: ProgressDrawTarget) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// A spinner for work of unknown length.
pub(crate) fn spinner(what: String) -> ProgressBar {
    let bar = spinner_on(what, stderr_target());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn spinner_on(what: String, target: ProgressDrawTarget) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, target);
    // Without a spinner style, a bar of unknown length draws an empty bar and `0/0`, and
    // no message.
    bar.set_style(ProgressStyle::default_spinner());
    bar.set_message(what);
    bar
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use indicatif::TermLike;

    use super::*;

    /// A terminal that keeps what is written to it (cursor moves and clears as markers).
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<String>>);

    impl Recorder {
        fn text(&self) -> String {
            self.0.lock().map(|t| t.clone()).unwrap_or_default()
        }
        fn push(&self, s: &str) -> io::Result<()> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .push_str(s);
            Ok(())
        }
    }

    impl TermLike for Recorder {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, n: usize) -> io::Result<()> {
            self.push(&format!("<up {n}>"))
        }
        fn move_cursor_down(&self, n: usize) -> io::Result<()> {
            self.push(&format!("<down {n}>"))
        }
        fn move_cursor_right(&self, n: usize) -> io::Result<()> {
            self.push(&format!("<right {n}>"))
        }
        fn move_cursor_left(&self, n: usize) -> io::Result<()> {
            self.push(&format!("<left {n}>"))
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.push(s)?;
            self.push("\n")
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.push(s)
        }
        fn clear_line(&self) -> io::Result<()> {
            self.push("<clear>")
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What the terminal shows last: the text after the last cursor move or clear, without
    /// the padding to the terminal's width.
    fn last_drawn(text: &str) -> &str {
        let start = ["<clear>", "<up 0>"]
            .iter()
            .filter_map(|m| text.rfind(m).map(|i| i + m.len()))
            .max()
            .unwrap_or(0);
        text[start..].trim_end()
    }

    fn on(term: &Recorder, on_terminal: bool) -> ProgressDrawTarget {
        let term = term.clone();
        target(on_terminal, move || {
            ProgressDrawTarget::term_like(Box::new(term))
        })
    }

    #[test]
    fn a_bar_on_a_terminal_draws_its_label_position_and_length() {
        let term = Recorder::default();
        let bar = bar_on(5, "applying", on(&term, true));
        bar.inc(2);
        // Drawing is rate-limited; abandoning draws the bar's state as it is, once more.
        bar.abandon();
        let text = term.text();
        assert_eq!(
            last_drawn(&text),
            "applying [============>                 ] 2/5",
            "{text:?}"
        );
        // It was drawn empty first.
        assert!(
            text.contains("applying [                              ] 0/5"),
            "{text:?}"
        );
    }

    #[test]
    fn a_finished_bar_is_cleared_from_the_terminal() {
        let term = Recorder::default();
        let bar = bar_on(3, "writing files", on(&term, true));
        bar.inc(3);
        bar.finish_and_clear();
        let text = term.text();
        assert!(
            text.contains("writing files [==============================] 3/3"),
            "{text:?}"
        );
        // Cleared after its last drawing, and nothing drawn since.
        let last = text.rfind("3/3").unwrap_or(0);
        assert!(text[last..].contains("<clear>"), "{text:?}");
        assert_eq!(last_drawn(&text), "", "{text:?}");
    }

    #[test]
    fn a_spinner_on_a_terminal_draws_its_message() {
        let term = Recorder::default();
        let spinner = spinner_on("reading event bus orders".into(), on(&term, true));
        spinner.abandon();
        let text = term.text();
        assert!(
            last_drawn(&text).ends_with(" reading event bus orders"),
            "{text:?}"
        );
        assert!(!text.contains("0/0"), "a spinner has no length: {text:?}");
    }

    #[test]
    fn off_a_terminal_nothing_is_drawn() {
        let term = Recorder::default();
        let bar = bar_on(5, "applying", on(&term, false));
        assert!(bar.is_hidden());
        bar.inc(5);
        bar.abandon();
        let spinner = spinner_on("reading".into(), on(&term, false));
        spinner.abandon();
        assert_eq!(term.text(), "");
    }
}
