//! Timing device work with CUDA events.
use crate::event::Event;
use crate::result::Result;
use crate::stream::Stream;

/// Per-run device times of one measured operation, in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Timing {
    /// Device time of each run, in milliseconds.
    pub runs_ms: Vec<f32>,
}

impl Timing {
    fn sorted(&self) -> Vec<f32> {
        let mut v = self.runs_ms.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    }

    /// Median run (NaN without runs).
    pub fn median_ms(&self) -> f64 {
        let v = self.sorted();
        if v.is_empty() {
            return f64::NAN;
        }
        let m = v.len() / 2;
        if v.len() % 2 == 1 {
            v[m] as f64
        } else {
            (v[m - 1] as f64 + v[m] as f64) / 2.0
        }
    }

    /// Fastest run.
    pub fn min_ms(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f32::NAN) as f64
    }

    /// Slowest run.
    pub fn max_ms(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f32::NAN) as f64
    }
}

/// Run `op` `warmup` times, then `reps` times each between two events on `stream`; returns the
/// per-run device times. `op(i)` gets the run index so callers can rotate inputs.
pub fn time_on_stream(
    stream: &Stream,
    warmup: usize,
    reps: usize,
    mut op: impl FnMut(usize) -> Result<()>,
) -> Result<Timing> {
    for i in 0..warmup {
        op(i)?;
    }
    stream.synchronize()?;
    let mut events = Vec::with_capacity(reps);
    for i in 0..reps {
        let start = Event::new(stream.context(), true)?;
        let end = Event::new(stream.context(), true)?;
        start.record(stream)?;
        op(warmup + i)?;
        end.record(stream)?;
        events.push((start, end));
    }
    stream.synchronize()?;
    let runs_ms = events
        .iter()
        .map(|(s, e)| e.elapsed_ms(s))
        .collect::<Result<Vec<_>>>()?;
    Ok(Timing { runs_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let t = Timing {
            runs_ms: vec![3.0, 1.0, 2.0],
        };
        assert_eq!((t.median_ms(), t.min_ms(), t.max_ms()), (2.0, 1.0, 3.0));
        let t = Timing {
            runs_ms: vec![4.0, 1.0, 2.0, 3.0],
        };
        assert_eq!(t.median_ms(), 2.5);
        assert!(Timing { runs_ms: vec![] }.median_ms().is_nan());
    }
}
