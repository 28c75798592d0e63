//! Paging of the list routes as Veloera does it: where each list's pages start, a lenient reading of the page
//! number and size, and the `{items, total, page, page_size}` answer (`veloera_admin_types::Page`).
//!
//! Veloera reads `p` and the page size with Go's `strconv.Atoi`, whose error it ignores: anything unparsable
//! (the UI's `p=NaN` before its state settles, `page_size=abc`) counts as 0 and then as the first page and the
//! default size. We do the same, so Veloera's UI and scripts never meet a 400 for a page number.

use serde::Deserialize;
use veloera_admin_types::Page;

/// Rows per page when the request names no usable size (Veloera's `ItemsPerPage`).
pub const DEFAULT_SIZE: i64 = 10;
/// The most rows one page holds.
pub const MAX_SIZE: i64 = 100;

/// The number of a list's first page: Veloera counts channels and tokens from 0 (`offset = p * size`), logs,
/// users and redemption codes from 1 (`offset = (p - 1) * size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPage {
    Zero,
    One,
}

impl FirstPage {
    fn number(self) -> i64 {
        match self {
            FirstPage::Zero => 0,
            FirstPage::One => 1,
        }
    }
}

/// The paging parameters of a list route as text: `p`, and the size as `page_size` or (Veloera's token list)
/// `size`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub p: Option<String>,
    #[serde(default)]
    pub page_size: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
}

impl PageQuery {
    pub fn request(&self, first: FirstPage) -> PageRequest {
        PageRequest::read(self.p.as_deref(), self.page_size.as_deref().or(self.size.as_deref()), first)
    }
}

/// One page asked for: its number (counted from the list's [`FirstPage`]) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub size: i64,
    first: FirstPage,
}

impl PageRequest {
    /// A page number below the first, or unreadable, is the first page; a size that is unreadable or not
    /// positive is [`DEFAULT_SIZE`], and sizes above [`MAX_SIZE`] are cut to it.
    pub fn read(p: Option<&str>, size: Option<&str>, first: FirstPage) -> Self {
        let parse = |v: Option<&str>| v.and_then(|v| v.trim().parse::<i64>().ok());
        let page = parse(p).filter(|&p| p >= first.number()).unwrap_or(first.number());
        let size = parse(size).filter(|&s| s > 0).map_or(DEFAULT_SIZE, |s| s.min(MAX_SIZE));
        Self { page, size, first }
    }

    /// Rows before this page.
    pub fn offset(&self) -> i64 {
        (self.page - self.first.number()).saturating_mul(self.size)
    }

    /// The answer for one page read from the database, with the number of rows matching the filter.
    pub fn answer<T>(&self, items: Vec<T>, total: i64) -> Page<T> {
        Page { items, total, page: self.page, page_size: self.size }
    }

    /// The answer for one page of rows already held whole (a search's bounded result).
    pub fn slice<T>(&self, all: Vec<T>) -> Page<T> {
        let total = all.len() as i64;
        let offset = usize::try_from(self.offset()).unwrap_or(usize::MAX);
        let items = all.into_iter().skip(offset).take(self.size as usize).collect();
        self.answer(items, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_numbers_fall_back_to_the_first_page_and_default_size() {
        let r = PageRequest::read(Some("NaN"), Some("abc"), FirstPage::One);
        assert_eq!((r.page, r.size, r.offset()), (1, DEFAULT_SIZE, 0));
        let r = PageRequest::read(Some("undefined"), Some(""), FirstPage::Zero);
        assert_eq!((r.page, r.size, r.offset()), (0, DEFAULT_SIZE, 0));
        let r = PageRequest::read(None, Some("0"), FirstPage::Zero);
        assert_eq!(r.size, DEFAULT_SIZE);
    }

    #[test]
    fn pages_count_from_the_lists_first_page() {
        assert_eq!(PageRequest::read(Some("1"), Some("20"), FirstPage::Zero).offset(), 20);
        assert_eq!(PageRequest::read(Some("1"), Some("20"), FirstPage::One).offset(), 0);
        assert_eq!(PageRequest::read(Some("3"), Some("20"), FirstPage::One).offset(), 40);
        // Below the first page is the first page: 0 on a list counted from 1, negatives anywhere.
        assert_eq!(PageRequest::read(Some("0"), None, FirstPage::One).page, 1);
        assert_eq!(PageRequest::read(Some("-4"), None, FirstPage::Zero).page, 0);
    }

    #[test]
    fn sizes_are_capped() {
        assert_eq!(PageRequest::read(None, Some("5000"), FirstPage::One).size, MAX_SIZE);
        assert_eq!(PageRequest::read(None, Some("-3"), FirstPage::One).size, DEFAULT_SIZE);
    }

    #[test]
    fn a_slice_counts_every_row_and_keeps_one_page() {
        let page = PageRequest::read(Some("2"), Some("2"), FirstPage::One).slice((1..=5).collect::<Vec<_>>());
        assert_eq!(page, Page { items: vec![3, 4], total: 5, page: 2, page_size: 2 });
        let past = PageRequest::read(Some("9"), Some("2"), FirstPage::One).slice(vec![1, 2]);
        assert_eq!((past.items.len(), past.total), (0, 2));
    }

    #[test]
    fn the_token_lists_size_parameter_is_read_too() {
        let q = PageQuery { p: Some("1".into()), page_size: None, size: Some("50".into()) };
        assert_eq!(q.request(FirstPage::Zero).offset(), 50);
    }
}
