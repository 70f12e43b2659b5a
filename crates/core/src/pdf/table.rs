//! A table over as many pages as its rows need: an introduction on the first
//! page, the column titles on every page, a numbered footer on every page.

use super::{Page, Pdf, Style};
use crate::error::Result;

/// A column: its title and where its cells start.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    pub x: f32,
}

/// The layout of a paged table (9-point rows, 17 points apart; an 8-point
/// footer « {footer} — page N sur M » at the foot of each page).
#[derive(Debug, Clone, Copy)]
pub struct Table<'c> {
    pub columns: &'c [Column],
    /// Rows on the first page (under its introduction), then on each other page.
    pub first_page: usize,
    pub per_page: usize,
}

const SIZE: f32 = 9.0;
const TOP: f32 = 70.0;
const TITLES_TO_ROWS: f32 = 16.0;
const ROW: f32 = 17.0;
const FOOTER: (f32, f32, f32) = (60.0, 810.0, 8.0);

impl Table<'_> {
    /// The rows of each page: `first_page` rows, then `per_page` at most; one
    /// page when there is no row.
    pub fn pages<'r, T>(&self, rows: &'r [T]) -> Vec<&'r [T]> {
        let (first, rest) = rows.split_at(rows.len().min(self.first_page));
        let mut pages = vec![first];
        pages.extend(rest.chunks(self.per_page.max(1)));
        pages
    }

    /// Draws `rows` on new pages of `pdf`: `intro` draws the top of the first
    /// page (from y = 70) and says where the table starts; `cells` gives a
    /// row's cells, one per column.
    pub fn draw<T>(
        &self,
        pdf: &mut Pdf,
        rows: &[T],
        intro: impl Fn(&mut Page, f32) -> f32,
        cells: impl Fn(&T) -> Vec<String>,
        footer: &str,
    ) -> Result<()> {
        let pages = self.pages(rows);
        let count = pages.len();
        for (n, chunk) in pages.into_iter().enumerate() {
            pdf.page(|page| {
                let mut y = TOP;
                if n == 0 {
                    y = intro(page, y);
                }
                for c in self.columns {
                    page.text(Style::Bold, SIZE, c.x, y, c.title);
                }
                y += TITLES_TO_ROWS;
                for row in chunk {
                    for (c, cell) in self.columns.iter().zip(cells(row)) {
                        page.text(Style::Regular, SIZE, c.x, y, &cell);
                    }
                    y += ROW;
                }
                let (x, y, size) = FOOTER;
                page.text(
                    Style::Regular,
                    size,
                    x,
                    y,
                    &format!("{footer} — page {} sur {count}", n + 1),
                );
                Ok(())
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_fill_the_first_page_then_the_others() {
        let t = Table {
            columns: &[],
            first_page: 2,
            per_page: 3,
        };
        let rows: Vec<i32> = (1..=7).collect();
        assert_eq!(t.pages(&rows), vec![&[1, 2][..], &[3, 4, 5], &[6, 7]]);
        assert_eq!(t.pages(&rows[..1]), vec![&[1][..]]);
        let empty: &[i32] = &[];
        assert_eq!(t.pages(empty), vec![empty], "one page even without rows");
    }
}
