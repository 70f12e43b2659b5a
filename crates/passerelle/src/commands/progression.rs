//! Progress of the bulk jobs (import, issue): a bar on a terminal; with
//! `PASSERELLE_PROGRESSION=lignes`, one plain line per step on the error output
//! (logs of scheduled runs, scripts, crash tests); nothing otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// Where the progress of one job goes.
pub enum Progression {
    Bar(ProgressBar),
    Lines(&'static str),
    Hidden,
}

impl Progression {
    /// `template` draws the bar (indicatif syntax); `unit` names what is counted in the lines.
    pub fn new(json: bool, template: &str, unit: &'static str) -> Progression {
        let lines = std::env::var("PASSERELLE_PROGRESSION").is_ok_and(|v| v.trim() == "lignes");
        if lines {
            Progression::Lines(unit)
        } else if std::io::stderr().is_terminal() && !json {
            let b = ProgressBar::new(0);
            b.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            Progression::Bar(b)
        } else {
            Progression::Hidden
        }
    }

    pub fn step(&self, done: u64, total: u64) {
        match self {
            Progression::Bar(b) => {
                b.set_length(total);
                b.set_position(done);
            }
            Progression::Lines(unit) => eprintln!("progression : {done}/{total} {unit}"),
            Progression::Hidden => {}
        }
    }

    pub fn finish(&self) {
        if let Progression::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}
