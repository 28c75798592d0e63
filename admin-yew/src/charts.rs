//! Charts drawn as SVG by Yew itself (no chart library in the bundle): stacked bars over time and a pie of
//! shares, each with axes or labels, a legend, and a tooltip per mark through SVG `<title>`.

use yew::prelude::*;

/// One coloured series: a name and one value per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// A colour per series index, spread around the wheel so neighbours differ.
pub fn colour(i: usize) -> String {
    format!("hsl({}, 65%, 55%)", (i * 137 + 210) % 360)
}

#[derive(Properties, PartialEq)]
pub struct StackedProps {
    /// Bucket labels, one per bar.
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    /// Formats a value for the axis and the tooltips.
    pub format: Callback<f64, String>,
    pub title: AttrValue,
    #[prop_or_default]
    pub id: Option<AttrValue>,
}

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 10.0;

/// A rounded-up axis maximum (1, 2 or 5 times a power of ten).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * p).find(|c| *c >= v).unwrap_or(10.0 * p)
}

#[function_component(StackedBars)]
pub fn stacked_bars(props: &StackedProps) -> Html {
    let n = props.labels.len().max(1);
    let totals: Vec<f64> =
        (0..n).map(|i| props.series.iter().map(|s| s.values.get(i).copied().unwrap_or(0.0)).sum()).collect();
    // Values are whole quota units or counts: at least 4 keeps the five gridlines on distinct labels.
    let max = nice_max(totals.iter().copied().fold(0.0, f64::max)).max(4.0);
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let bar = (slot * 0.7).clamp(1.0, 48.0);
    let y = |v: f64| TOP + plot_h - v / max * plot_h;
    // Label every k-th bucket so labels never overlap.
    let every = (n as f64 / 8.0).ceil().max(1.0) as usize;

    html! {
        <figure class="chart" id={props.id.clone()}>
            <figcaption>{ props.title.clone() }</figcaption>
            <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label={props.title.clone()} preserveAspectRatio="xMidYMid meet">
                { for (0..=4).map(|i| {
                    let v = max * i as f64 / 4.0;
                    html! {
                        <g class="grid">
                            <line x1={LEFT.to_string()} x2={(W - 8.0).to_string()} y1={y(v).to_string()} y2={y(v).to_string()} />
                            <text x={(LEFT - 6.0).to_string()} y={(y(v) + 4.0).to_string()} text-anchor="end">{ props.format.emit(v) }</text>
                        </g>
                    }
                }) }
                { for (0..n).map(|i| {
                    let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
                    let mut base = 0.0;
                    html! {
                        <g>
                            { for props.series.iter().enumerate().map(|(si, s)| {
                                let v = s.values.get(i).copied().unwrap_or(0.0);
                                let (top, bottom) = (y(base + v), y(base));
                                base += v;
                                if v <= 0.0 { return html! {}; }
                                html! {
                                    <rect class="bar" x={x.to_string()} y={top.to_string()} width={bar.to_string()}
                                        height={(bottom - top).max(0.5).to_string()} fill={colour(si)}>
                                        <title>{ format!("{} · {}: {}", props.labels.get(i).cloned().unwrap_or_default(), s.name, props.format.emit(v)) }</title>
                                    </rect>
                                }
                            }) }
                            if i % every == 0 {
                                <text class="axis-label" x={(x + bar / 2.0).to_string()} y={(H - 8.0).to_string()} text-anchor="middle">
                                    { props.labels.get(i).cloned().unwrap_or_default() }
                                </text>
                            }
                        </g>
                    }
                }) }
                <line class="axis" x1={LEFT.to_string()} x2={LEFT.to_string()} y1={TOP.to_string()} y2={(TOP + plot_h).to_string()} />
                <line class="axis" x1={LEFT.to_string()} x2={(W - 8.0).to_string()} y1={(TOP + plot_h).to_string()} y2={(TOP + plot_h).to_string()} />
            </svg>
            <Legend names={props.series.iter().map(|s| s.name.clone()).collect::<Vec<_>>()} />
        </figure>
    }
}

#[derive(Properties, PartialEq)]
pub struct PieProps {
    /// (name, value) per slice.
    pub slices: Vec<(String, f64)>,
    pub format: Callback<f64, String>,
    pub title: AttrValue,
    #[prop_or_default]
    pub id: Option<AttrValue>,
}

#[function_component(Pie)]
pub fn pie(props: &PieProps) -> Html {
    let total: f64 = props.slices.iter().map(|(_, v)| v).sum();
    let (cx, cy, r) = (110.0, 110.0, 100.0);
    let mut angle = -std::f64::consts::FRAC_PI_2;
    html! {
        <figure class="chart pie" id={props.id.clone()}>
            <figcaption>{ props.title.clone() }</figcaption>
            <svg viewBox="0 0 220 220" role="img" aria-label={props.title.clone()}>
                { for props.slices.iter().enumerate().map(|(i, (name, v))| {
                    let share = if total > 0.0 { v / total } else { 0.0 };
                    let tip = format!("{name}: {} ({:.1}%)", props.format.emit(*v), share * 100.0);
                    if share >= 0.9999 {
                        return html! { <circle cx={cx.to_string()} cy={cy.to_string()} r={r.to_string()} fill={colour(i)}><title>{ tip }</title></circle> };
                    }
                    let start = angle;
                    angle += share * std::f64::consts::TAU;
                    let (x1, y1) = (cx + r * start.cos(), cy + r * start.sin());
                    let (x2, y2) = (cx + r * angle.cos(), cy + r * angle.sin());
                    let large = if share > 0.5 { 1 } else { 0 };
                    let d = format!("M{cx},{cy} L{x1:.2},{y1:.2} A{r},{r} 0 {large} 1 {x2:.2},{y2:.2} Z");
                    html! { <path d={d} fill={colour(i)}><title>{ tip }</title></path> }
                }) }
            </svg>
            <Legend names={props.slices.iter().map(|(n, v)| {
                let share = if total > 0.0 { v / total * 100.0 } else { 0.0 };
                format!("{n} {share:.1}%")
            }).collect::<Vec<_>>()} />
        </figure>
    }
}

#[derive(Properties, PartialEq)]
struct LegendProps {
    names: Vec<String>,
}

#[function_component(Legend)]
fn legend(props: &LegendProps) -> Html {
    html! {
        <ul class="legend">
            { for props.names.iter().enumerate().map(|(i, n)| html! {
                <li><span class="swatch" style={format!("background: {}", colour(i))}></span>{ n.clone() }</li>
            }) }
        </ul>
    }
}

#[cfg(test)]
mod tests {
    use super::nice_max;

    #[test]
    fn axis_maximum_rounds_up_to_one_two_or_five() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(0.03), 0.05);
        assert_eq!(nice_max(500.0), 500.0);
    }
}
