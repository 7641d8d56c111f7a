//! Pages: `first` and `after` arguments, opaque cursors, and what a page costs.

use super::error::bad_input;
use async_graphql::connection::{Connection, CursorType, Edge, OpaqueCursor};
use async_graphql::{OutputType, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Items of a page when the query names no `first`.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// The most items of one page: a larger `first` is refused.
pub const MAX_PAGE_SIZE: usize = 100;

/// A requested page: how many items, after which cursor.
#[derive(Debug)]
pub(crate) struct Page<C> {
    /// Items to return.
    pub first: usize,
    /// The cursor of the item to start after, decoded.
    pub after: Option<C>,
}

impl<C: Serialize + DeserializeOwned> Page<C> {
    /// `first` (default [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`]) and `after`
    /// (a cursor of this list).
    pub fn new(first: Option<i32>, after: Option<String>) -> Result<Self> {
        let first = size(first)?;
        let after = after
            .map(|a| {
                OpaqueCursor::<C>::decode_cursor(&a)
                    .map(|c| c.0)
                    .map_err(|_| bad_input(format!("after: {a:?} is not a cursor of this list")))
            })
            .transpose()?;
        Ok(Self { first, after })
    }
}

/// A page's size: `first`, [`DEFAULT_PAGE_SIZE`] when not given, refused over
/// [`MAX_PAGE_SIZE`] or below 0.
pub(crate) fn size(first: Option<i32>) -> Result<usize> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| *n <= MAX_PAGE_SIZE)
            .ok_or_else(|| {
                bad_input(format!(
                    "first must be between 0 and {MAX_PAGE_SIZE}, not {n}"
                ))
            }),
    }
}

/// The complexity of a page of `first` items each costing `child`: the field, plus
/// each item (`first` counted as the page will be, so a refused size is not cheap).
pub(crate) fn cost(first: Option<i32>, child: usize) -> usize {
    let n = first.map_or(DEFAULT_PAGE_SIZE, |n| {
        usize::try_from(n).map_or(0, |n| n.min(MAX_PAGE_SIZE))
    });
    n.saturating_mul(child).saturating_add(1)
}

/// One page of `items`, which is in the list's order: the page after `page.after`
/// (whose position `key` finds), of `page.first` items.
pub(crate) fn slice<T, N, C>(
    items: Vec<T>,
    page: Page<C>,
    key: impl Fn(&T) -> C,
    node: impl Fn(T) -> N,
) -> Result<Connection<OpaqueCursor<C>, N>>
where
    N: OutputType,
    C: Serialize + DeserializeOwned + PartialEq + Send + Sync,
{
    let start = match &page.after {
        None => 0,
        Some(after) => {
            items
                .iter()
                .position(|t| key(t) == *after)
                .ok_or_else(|| bad_input("after: the cursor names nothing of this list"))?
                + 1
        }
    };
    let has_next = items.len() > start.saturating_add(page.first);
    let mut connection = Connection::new(start > 0, has_next);
    connection.edges.extend(
        items
            .into_iter()
            .skip(start)
            .take(page.first)
            .map(|t| Edge::new(OpaqueCursor(key(&t)), node(t))),
    );
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_are_capped_and_cursors_checked() {
        assert_eq!(
            Page::<String>::new(None, None).map(|p| p.first).ok(),
            Some(20)
        );
        assert!(Page::<String>::new(Some(101), None).is_err());
        assert!(Page::<String>::new(Some(-1), None).is_err());
        assert!(Page::<String>::new(None, Some("not base64!".into())).is_err());
        let c = OpaqueCursor("r1".to_owned()).encode_cursor();
        let page = Page::<String>::new(Some(0), Some(c)).ok();
        assert_eq!(page.and_then(|p| p.after), Some("r1".to_owned()));
        assert_eq!(cost(Some(i32::MAX), 10), 1001);
        assert_eq!(cost(None, usize::MAX), usize::MAX);
    }
}
