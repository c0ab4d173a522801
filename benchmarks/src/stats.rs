//! Medians, percentiles, tables and CSV.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Summary of one transport's samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// The median.
    pub median: f64,
    /// The 99th percentile.
    pub p99: f64,
    /// Number of samples.
    pub n: usize,
}

/// Median and p99 of `values`.
pub fn summarize(values: &[f64]) -> Summary {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return Summary {
            median: f64::NAN,
            p99: f64::NAN,
            n: 0,
        };
    }
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Summary {
        median: at(0.5),
        p99: at(0.99),
        n: v.len(),
    }
}

/// One row of results: a scenario's case (e.g. a payload size), a transport, its figures.
#[derive(Debug, Clone)]
pub struct Row {
    /// The case (payload size, subscriber count, mode ...).
    pub case: String,
    /// The transport.
    pub transport: &'static str,
    /// The figures.
    pub summary: Summary,
}

/// Results of a scenario, printed as a table and written as CSV.
pub struct Report {
    /// The scenario's name (CSV file name).
    pub name: &'static str,
    /// What the numbers are ("one-way latency", "messages/s" ...).
    pub unit: &'static str,
    /// The rows.
    pub rows: Vec<Row>,
    /// The transport the ratio column divides by the others ("shmbus" but in the async
    /// scenario, whose subject is the async subscriber).
    pub reference: &'static str,
}

impl Report {
    /// The summary of `transport` for `case`.
    pub fn get(&self, case: &str, transport: &str) -> Option<Summary> {
        self.rows
            .iter()
            .find(|r| r.case == case && r.transport == transport)
            .map(|r| r.summary)
    }

    /// The cases in order of appearance.
    pub fn cases(&self) -> Vec<String> {
        let mut cases: Vec<String> = Vec::new();
        for r in &self.rows {
            if !cases.contains(&r.case) {
                cases.push(r.case.clone());
            }
        }
        cases
    }

    /// The transports in order of appearance.
    pub fn transports(&self) -> Vec<&'static str> {
        let mut ts: Vec<&'static str> = Vec::new();
        for r in &self.rows {
            if !ts.contains(&r.transport) {
                ts.push(r.transport);
            }
        }
        ts
    }

    /// A Markdown table: per case and transport the median, the p99 and shmbus / it.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} ({})\n", self.name, self.unit);
        let _ = writeln!(
            out,
            "| case | transport | median | p99 | {} / this (median) |",
            self.reference
        );
        let _ = writeln!(out, "| --- | --- | ---: | ---: | ---: |");
        for case in self.cases() {
            let ours = self.get(&case, self.reference);
            for r in self.rows.iter().filter(|r| r.case == case) {
                let ratio = match ours {
                    // A ratio of counts that are both zero (samples missed) says nothing.
                    Some(o) if r.transport != self.reference && r.summary.median != 0.0 => {
                        format!("{:.2}", o.median / r.summary.median)
                    }
                    _ => "—".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    case,
                    r.transport,
                    fmt_value(r.summary.median, self.unit),
                    fmt_value(r.summary.p99, self.unit),
                    ratio
                );
            }
        }
        out
    }

    /// Writes `results/<name>.csv` under `dir` and returns its path.
    pub fn write_csv(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.csv", self.name));
        let mut out = String::from("case,transport,unit,median,p99,samples,shmbus_over_this\n");
        for r in &self.rows {
            let ratio = self
                .get(&r.case, self.reference)
                .map(|o| o.median / r.summary.median)
                .unwrap_or(f64::NAN);
            let _ = writeln!(
                out,
                "{},{},{},{:.3},{:.3},{},{:.4}",
                r.case, r.transport, self.unit, r.summary.median, r.summary.p99, r.summary.n, ratio
            );
        }
        std::fs::write(&path, out)?;
        Ok(path)
    }
}

/// A value in its unit, readable.
pub fn fmt_value(v: f64, unit: &str) -> String {
    if unit.ends_with("ns") {
        if v >= 1e6 {
            format!("{:.2} ms", v / 1e6)
        } else if v >= 1e4 {
            format!("{:.1} µs", v / 1e3)
        } else {
            format!("{v:.0} ns")
        }
    } else if unit.contains("msg/s") {
        if v >= 1e6 {
            format!("{:.2} M", v / 1e6)
        } else {
            format!("{:.1} k", v / 1e3)
        }
    } else if v.abs() < 100.0 && v.fract() != 0.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// A payload size, readable.
pub fn size_name(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}
