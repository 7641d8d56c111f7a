//! The `PrivacyFilter` extension point: what a caller may see of a record.
//!
//! Filters are applied by the tenant-aware repository (`tamma-bench-privacy`), the only
//! way results leave a store. This module holds the trait, the identity filter and
//! composition; the policy-driven filters live in `tamma-bench-privacy`.

use crate::model::TenantContext;

/// Given the caller's context and a record, returns the view that caller may see, or
/// `None` when it may see nothing of it.
pub trait PrivacyFilter<R>: Send + Sync {
    /// Filters one record.
    fn filter(&self, cx: &TenantContext, record: R) -> Option<R>;

    /// This filter, then `next`.
    fn then<F: PrivacyFilter<R>>(self, next: F) -> Chain<Self, F>
    where
        Self: Sized,
    {
        Chain {
            first: self,
            second: next,
        }
    }
}

/// Lets every record through unchanged. For internal tooling and tests; external paths
/// use the filters of `tamma-bench-privacy`.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdentityFilter;

impl<R> PrivacyFilter<R> for IdentityFilter {
    fn filter(&self, _cx: &TenantContext, record: R) -> Option<R> {
        Some(record)
    }
}

/// Two filters applied in order; a record dropped by the first never reaches the second.
#[derive(Debug, Clone, Copy)]
pub struct Chain<A, B> {
    first: A,
    second: B,
}

impl<R, A: PrivacyFilter<R>, B: PrivacyFilter<R>> PrivacyFilter<R> for Chain<A, B> {
    fn filter(&self, cx: &TenantContext, record: R) -> Option<R> {
        self.second.filter(cx, self.first.filter(cx, record)?)
    }
}

/// A filter from a closure.
pub struct FnFilter<F>(pub F);

impl<R, F: Fn(&TenantContext, R) -> Option<R> + Send + Sync> PrivacyFilter<R> for FnFilter<F> {
    fn filter(&self, cx: &TenantContext, record: R) -> Option<R> {
        (self.0)(cx, record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TenantId, Tier};

    #[test]
    fn chained_filters_apply_in_order_and_stop_at_the_first_drop() {
        let cx = TenantContext::external(TenantId::local(), Tier::Free, "p");
        let double = FnFilter(|_: &TenantContext, x: i32| Some(x * 2));
        let small_only = FnFilter(|_: &TenantContext, x: i32| (x < 10).then_some(x));
        let f = IdentityFilter.then(double).then(small_only);
        assert_eq!(f.filter(&cx, 3), Some(6));
        assert_eq!(f.filter(&cx, 7), None);
    }
}
