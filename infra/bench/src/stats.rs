//! Median and p90 of a handful of runs.

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub p90: f64,
}

impl Summary {
    /// Nearest-rank percentiles: every reported number is one that was measured,
    /// which is what matters with 20 samples.
    pub fn of(mut values: Vec<f64>) -> Self {
        assert!(!values.is_empty(), "no samples");
        values.sort_by(f64::total_cmp);
        Self { median: nearest_rank(&values, 50), p90: nearest_rank(&values, 90) }
    }
}

fn nearest_rank(sorted: &[f64], percent: usize) -> f64 {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_runs() {
        let s = Summary::of((1..=20).rev().map(f64::from).collect());
        assert_eq!(s, Summary { median: 10.0, p90: 18.0 });
    }

    #[test]
    fn one_run() {
        assert_eq!(Summary::of(vec![3.0]), Summary { median: 3.0, p90: 3.0 });
    }
}
