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
        "latency" => lines(report, &path, "payload size (bytes)", true)?,
        "fanout" => lines(report, &path, "subscribers", false)?,
        "throughput" => bars(report, &path)?,
        _ => return Ok(None),
    }
    Ok(Some(path))
}

/// The x value of a case: "8 B" -> 8, "64 KiB" -> 65536, "4 sub" -> 4.
fn case_x(case: &str) -> f64 {
    let mut it = case.split_whitespace();
    let n: f64 = it.next().and_then(|n| n.parse().ok()).unwrap_or(f64::NAN);
    match it.next() {
        Some("KiB") => n * 1024.0,
        Some("MiB") => n * 1048576.0,
        _ => n,
    }
}

/// One line per transport: the median against the case, log-log for latency.
fn lines(report: &Report, path: &Path, x_label: &str, log_x: bool) -> Result<(), Error> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let xs: Vec<f64> = report.cases().iter().map(|c| case_x(c)).collect();
    let (x0, x1) = (
        xs.iter().cloned().fold(f64::MAX, f64::min),
        xs.iter().cloned().fold(0.0, f64::max),
    );
    let ys: Vec<f64> = report.rows.iter().map(|r| r.summary.median).collect();
    let (y0, y1) = (
        ys.iter().cloned().fold(f64::MAX, f64::min) / 1.5,
        ys.iter().cloned().fold(0.0, f64::max) * 1.5,
    );
    let caption = format!("{}: median {}", report.name, report.unit);
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(caption, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80);
    let ns = |v: &f64| crate::stats::fmt_value(*v, "ns");
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc("one-way latency")
                .y_label_formatter(&ns)
                .x_label_formatter(&|v| {
                    if log_x {
                        crate::stats::size_name(*v as usize)
                    } else {
                        format!("{v:.0}")
                    }
                })
                .draw()
                .map_err(err)?;
            for (i, t) in report.transports().into_iter().enumerate() {
                let color = COLORS[i % COLORS.len()];
                let points: Vec<(f64, f64)> = report
                    .rows
                    .iter()
                    .filter(|r| r.transport == t)
                    .map(|r| (case_x(&r.case), r.summary.median))
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
        }};
    }
    if log_x {
        finish!(
            builder
                .build_cartesian_2d((x0 / 2.0..x1 * 2.0).log_scale(), (y0..y1).log_scale())
                .map_err(err)?
        );
    } else {
        finish!(
            builder
                .build_cartesian_2d(x0 - 0.5..x1 + 0.5, (y0..y1).log_scale())
                .map_err(err)?
        );
    }
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
