//! Durations and ages in the short form people read at a glance: "42s", "12m 3s", "5h 12m".

pub fn humanize_seconds(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".into();
    }
    if secs < 10.0 {
        let s = format!("{secs:.1}");
        return format!("{}s", s.trim_end_matches(".0"));
    }
    let s = secs.round() as u64;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) if sec == 0 => format!("{m}m"),
        (0, 0, _) => format!("{m}m {sec}s"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_forms() {
        let cases = [
            (0.0, "0s"),
            (2.5, "2.5s"),
            (42.0, "42s"),
            (723.0, "12m 3s"),
            (3600.0, "1h"),
            (18_720.0, "5h 12m"),
            (90_000.0, "1d 1h"),
            (-1.0, "-"),
        ];
        for (secs, want) in cases {
            assert_eq!(super::humanize_seconds(secs), want);
        }
    }
}
