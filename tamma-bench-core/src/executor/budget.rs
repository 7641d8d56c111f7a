//! The cost budget: nothing is scheduled that the remaining budget cannot cover.

use std::sync::Mutex;

/// Spent and reserved USD against a limit.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: Option<f64>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    spent: f64,
    reserved: f64,
    exhausted: bool,
}

impl Budget {
    pub(crate) fn new(limit: Option<f64>) -> Self {
        Self {
            limit,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves the worst-case cost of a trial. `false` (and the budget marked exhausted)
    /// when spent + reserved + this would pass the limit.
    pub(crate) fn reserve(&self, worst_case: f64) -> bool {
        let mut s = self.lock();
        if s.exhausted {
            return false;
        }
        if let Some(limit) = self.limit
            && s.spent + s.reserved + worst_case > limit + 1e-12
        {
            s.exhausted = true;
            return false;
        }
        s.reserved += worst_case;
        true
    }

    /// Settles a reservation with the actual cost.
    pub(crate) fn settle(&self, reserved: f64, actual: f64) {
        let mut s = self.lock();
        s.reserved = (s.reserved - reserved).max(0.0);
        s.spent += actual;
    }

    pub(crate) fn exhausted(&self) -> bool {
        self.lock().exhausted
    }

    pub(crate) fn spent(&self) -> f64 {
        self.lock().spent
    }
}

#[cfg(test)]
mod tests {
    use super::Budget;

    #[test]
    fn refuses_what_the_remaining_budget_cannot_cover() {
        let b = Budget::new(Some(1.0));
        assert!(b.reserve(0.6));
        assert!(!b.reserve(0.6), "0.6 reserved + 0.6 > 1.0");
        assert!(b.exhausted());
        let unlimited = Budget::new(None);
        assert!(unlimited.reserve(1e9));
        unlimited.settle(1e9, 2.0);
        assert_eq!(unlimited.spent(), 2.0);
    }
}
