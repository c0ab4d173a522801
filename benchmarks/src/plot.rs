//! SVG plots of the reports, drawn with plotters: latency against payload size (log
//! scales), throughput bars, fan-out lines.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::links::Error;
use crate::stats::Report;

const COLORS: [RGBColor; 6] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0x94, 0x67, 0xbd),
];

fn err(e: impl std::fmt::Display) -> Error {
    e.to_string().into()
}

/// Draws the plot that belongs to `report` (latency, throughput, fan-out) into `dir`;
/// `None` for the reports without one.
pub fn draw(report: &Report, dir: &Path) -> Result<Option<PathBuf>, Error> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.svg", report.name));
    match report.name {
        "latency" => lines(report, &path, "payload size")?,
        "fanout" => lines(report, &path, "subscribers")?,
        "throughput" => bars(report, &path)?,
        _ => return Ok(None),
    }
    Ok(Some(path))
}

/// One line per transport: the median of each case (evenly spaced: the payload sizes
/// grow by powers of 16 to 64, the subscriber counts by powers of 2) on a log scale.
fn lines(report: &Report, path: &Path, x_label: &str) -> Result<(), Error> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let cases = report.cases();
    let x_of = |case: &str| cases.iter().position(|c| c == case).unwrap_or(0) as f64;
    let ys: Vec<f64> = report.rows.iter().map(|r| r.summary.median).collect();
    let (y0, y1) = (
        ys.iter().cloned().fold(f64::MAX, f64::min) / 1.5,
        ys.iter().cloned().fold(0.0, f64::max) * 3.0,
    );
    let names = cases.clone();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{}: median {}", report.name, report.unit),
            ("sans-serif", 20),
        )
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..cases.len() as f64 - 0.5, (y0..y1).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("latency")
        .x_labels(cases.len() * 4)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 0.01 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| crate::stats::fmt_value(*v, "ns"))
        .draw()
        .map_err(err)?;
    for (i, t) in report.transports().into_iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64)> = report
            .rows
            .iter()
            .filter(|r| r.transport == t)
            .map(|r| (x_of(&r.case), r.summary.median))
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(err)?
            .label(t)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Grouped bars: per case one bar per transport, messages per second on a log scale.
fn bars(report: &Report, path: &Path) -> Result<(), Error> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let cases = report.cases();
    let transports = report.transports();
    let max = report
        .rows
        .iter()
        .map(|r| r.summary.median)
        .fold(0.0, f64::max)
        * 3.0;
    let min = report
        .rows
        .iter()
        .map(|r| r.summary.median)
        .fold(f64::MAX, f64::min)
        / 3.0;
    let width = transports.len() as f64 + 1.0;
    let mut chart = ChartBuilder::on(&root)
        .caption("throughput: median messages/s received", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..cases.len() as f64 * width, (min..max).log_scale())
        .map_err(err)?;
    let names = cases.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(cases.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = (x / width).floor() as usize;
            let centre = i as f64 * width + width / 2.0;
            if (x - centre).abs() < width / 4.0 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| crate::stats::fmt_value(*v, "msg/s"))
        .y_desc("messages/s")
        .draw()
        .map_err(err)?;
    chart
        .draw_series(cases.iter().enumerate().map(|(ci, c)| {
            let x = ci as f64 * width + 0.4;
            Text::new(c.clone(), (x, min * 1.6), ("sans-serif", 14))
        }))
        .map_err(err)?;
    for (ti, t) in transports.iter().enumerate() {
        let color = COLORS[ti % COLORS.len()];
        let bars: Vec<_> = cases
            .iter()
            .enumerate()
            .filter_map(|(ci, c)| {
                let s = report.get(c, t)?;
                let x = ci as f64 * width + 0.5 + ti as f64;
                Some(Rectangle::new(
                    [(x, min), (x + 0.9, s.median)],
                    color.filled(),
                ))
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(*t)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Reads a report back from the CSV file [`Report::write_csv`] wrote (to redraw plots).
pub fn read_csv(path: &Path, name: &'static str) -> Result<Report, Error> {
    let text = std::fs::read_to_string(path)?;
    let mut report = Report {
        name,
        unit: "",
        rows: Vec::new(),
        reference: "shmbus",
    };
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let [case, transport, unit, median, p99, n, ..] = f[..] else {
            return Err(format!("{}: malformed line {line:?}", path.display()).into());
        };
        report.unit = Box::leak(unit.to_owned().into_boxed_str());
        let summary = crate::stats::Summary {
            median: median.parse()?,
            p99: p99.parse()?,
            n: n.parse()?,
        };
        let transport: &'static str = Box::leak(transport.to_owned().into_boxed_str());
        report.rows.push(crate::stats::Row {
            case: case.to_owned(),
            transport,
            summary,
        });
    }
    Ok(report)
}
