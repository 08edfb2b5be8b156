//! Charts drawn on the server as SVG: integer coordinates, no script, a text alternative.

use bazaar_money::{Currency, Money};
use maud::{Markup, PreEscaped, html};

use super::layout::money;

const WIDTH: i64 = 640;
const HEIGHT: i64 = 220;
const LEFT: i64 = 8;
const RIGHT: i64 = 8;
const TOP: i64 = 16;
const BOTTOM: i64 = 28;

/// One point per day: its label (`2026-11-30`) and a value in minor units.
pub struct Series<'a> {
    pub title: &'a str,
    pub currency: Currency,
    pub points: &'a [(String, i64)],
}

/// `value` scaled from `[low, high]` onto `[to_low, to_high]`, in integers.
fn scale(value: i64, low: i64, high: i64, to_low: i64, to_high: i64) -> i64 {
    let span = i128::from(high).saturating_sub(i128::from(low)).max(1);
    let offset = i128::from(value).saturating_sub(i128::from(low));
    let to_span = i128::from(to_high).saturating_sub(i128::from(to_low));
    let scaled = offset
        .saturating_mul(to_span)
        .checked_div(span)
        .unwrap_or(0);
    i64::try_from(i128::from(to_low).saturating_add(scaled)).unwrap_or(to_low)
}

fn bounds(points: &[(String, i64)]) -> (i64, i64) {
    let low = points.iter().map(|(_, v)| *v).min().unwrap_or(0).min(0);
    let high = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    (low, high)
}

fn frame(series: &Series<'_>, id: &str, low: i64, high: i64, drawing: Markup) -> Markup {
    let first = series
        .points
        .first()
        .map_or("", |(label, _)| label.as_str());
    let last = series.points.last().map_or("", |(label, _)| label.as_str());
    let zero = scale(0, low, high, HEIGHT.saturating_sub(BOTTOM), TOP);
    let m = |minor: i64| money(Money::from_minor(minor, series.currency));
    html! {
        figure {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
                aria-labelledby=(format!("{id}-title {id}-desc")) xmlns="http://www.w3.org/2000/svg" {
                title id=(format!("{id}-title")) { (series.title) }
                desc id=(format!("{id}-desc")) {
                    (series.points.len()) " days from " (first) " to " (last)
                    "; lowest " (m(low)) ", highest " (m(high)) "."
                }
                rect x="0" y="0" width=(WIDTH) height=(HEIGHT) fill="#ffffff" {}
                line x1=(LEFT) x2=(WIDTH.saturating_sub(RIGHT)) y1=(zero) y2=(zero)
                    stroke="#8a939d" stroke-width="1" {}
                (drawing)
                text x=(LEFT) y=(HEIGHT.saturating_sub(8)) font-size="12" fill="#4f5863" { (first) }
                text x=(WIDTH.saturating_sub(RIGHT)) y=(HEIGHT.saturating_sub(8)) font-size="12"
                    fill="#4f5863" text-anchor="end" { (last) }
                text x=(LEFT) y="12" font-size="12" fill="#4f5863" { (m(high)) }
            }
            figcaption { (series.title) }
        }
    }
}

/// A line of the values, one point per day.
pub fn line(series: &Series<'_>, id: &str) -> Markup {
    let (low, high) = bounds(series.points);
    let last = i64::try_from(series.points.len().saturating_sub(1))
        .unwrap_or(0)
        .max(1);
    let path: Vec<String> = series
        .points
        .iter()
        .enumerate()
        .map(|(index, (_, value))| {
            let x = scale(
                i64::try_from(index).unwrap_or(0),
                0,
                last,
                LEFT,
                WIDTH.saturating_sub(RIGHT),
            );
            let y = scale(*value, low, high, HEIGHT.saturating_sub(BOTTOM), TOP);
            format!("{x},{y}")
        })
        .collect();
    let drawing = html! {
        polyline points=(path.join(" ")) fill="none" stroke="#0b5cad" stroke-width="2" {}
    };
    frame(series, id, low, high, drawing)
}

/// A bar per day.
pub fn bars(series: &Series<'_>, id: &str) -> Markup {
    let (low, high) = bounds(series.points);
    let count = i64::try_from(series.points.len()).unwrap_or(1).max(1);
    let right = WIDTH.saturating_sub(RIGHT);
    let zero = scale(0, low, high, HEIGHT.saturating_sub(BOTTOM), TOP);
    let mut bars = String::new();
    for (index, (label, value)) in series.points.iter().enumerate() {
        if *value == 0 {
            continue;
        }
        let index = i64::try_from(index).unwrap_or(0);
        let x = scale(index, 0, count, LEFT, right);
        let next = scale(index.saturating_add(1), 0, count, LEFT, right);
        let y = scale(*value, low, high, HEIGHT.saturating_sub(BOTTOM), TOP);
        let (top, height) = if y < zero {
            (y, zero.saturating_sub(y))
        } else {
            (zero, y.saturating_sub(zero))
        };
        let width = next.saturating_sub(x).saturating_sub(1).max(1);
        bars.push_str(
            &html! {
                rect x=(x) y=(top) width=(width) height=(height.max(1)) fill="#13692f" {
                    title { (label) ": " (money(Money::from_minor(*value, series.currency))) }
                }
            }
            .into_string(),
        );
    }
    frame(series, id, low, high, PreEscaped(bars))
}

/// One currency's pair of bars: what the platform holds, and what it owes.
pub struct Pair {
    pub label: String,
    pub held: Money,
    pub owed: Money,
}

/// Two horizontal bars per row (held above, owed below), each row scaled to its own larger
/// amount, since rows are in different currencies.
pub fn pairs(title: &str, rows: &[Pair], id: &str) -> Markup {
    const ROW: i64 = 54;
    const LABEL: i64 = 64;
    let height = ROW
        .saturating_mul(i64::try_from(rows.len()).unwrap_or(0))
        .saturating_add(TOP);
    let right = WIDTH.saturating_sub(RIGHT).saturating_sub(150);
    html! {
        figure {
            svg viewBox=(format!("0 0 {WIDTH} {height}")) role="img"
                aria-labelledby=(format!("{id}-title {id}-desc")) xmlns="http://www.w3.org/2000/svg" {
                title id=(format!("{id}-title")) { (title) }
                desc id=(format!("{id}-desc")) {
                    @for row in rows {
                        (row.label) ": held " (money(row.held)) ", owed " (money(row.owed)) ". "
                    }
                }
                rect x="0" y="0" width=(WIDTH) height=(height) fill="#ffffff" {}
                @for (index, row) in rows.iter().enumerate() {
                    @let top = ROW.saturating_mul(i64::try_from(index).unwrap_or(0)).saturating_add(TOP);
                    @let high = row.held.minor().max(row.owed.minor()).max(1);
                    @let held = scale(row.held.minor().max(0), 0, high, LABEL, right);
                    @let owed = scale(row.owed.minor().max(0), 0, high, LABEL, right);
                    text x=(LEFT) y=(top.saturating_add(22)) font-size="13" fill="#1f2328" { (row.label) }
                    rect x=(LABEL) y=(top) width=(held.saturating_sub(LABEL).max(1)) height="18" fill="#13692f" {
                        title { "Held: " (money(row.held)) }
                    }
                    text x=(held.saturating_add(6)) y=(top.saturating_add(14)) font-size="12" fill="#4f5863" { "held " (money(row.held)) }
                    rect x=(LABEL) y=(top.saturating_add(22)) width=(owed.saturating_sub(LABEL).max(1)) height="18" fill="#a4541a" {
                        title { "Owed: " (money(row.owed)) }
                    }
                    text x=(owed.saturating_add(6)) y=(top.saturating_add(36)) font-size="12" fill="#4f5863" { "owed " (money(row.owed)) }
                }
            }
            figcaption { (title) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_maps_the_ends_and_never_divides_by_zero() {
        assert_eq!(scale(0, 0, 100, 200, 0), 200);
        assert_eq!(scale(100, 0, 100, 200, 0), 0);
        assert_eq!(scale(50, 0, 100, 200, 0), 100);
        assert_eq!(scale(5, 5, 5, 10, 20), 10);
        assert_eq!(scale(i64::MAX, i64::MIN, i64::MAX, 0, 640), 640);
    }

    #[test]
    fn a_chart_names_its_range_for_screen_readers() {
        let points = vec![
            ("2026-11-01".to_owned(), 0),
            ("2026-11-02".to_owned(), 1_250),
        ];
        let svg = line(
            &Series {
                title: "Balance",
                currency: Currency::from_code("EUR").unwrap(),
                points: &points,
            },
            "balance",
        )
        .into_string();
        assert!(svg.contains("2 days from 2026-11-01 to 2026-11-02"));
        assert!(svg.contains("highest 12.50 EUR"));
        assert!(svg.contains("<polyline points=\"8,192 632,16\""));
    }
}
