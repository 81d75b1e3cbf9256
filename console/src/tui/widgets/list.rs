//! Selection and scrolling of long lists, drawing only the rows that fit: a table of
//! 5,000 instances costs what its visible 20 rows cost.

/// A cursor into a list of `len` rows and the first row on screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCursor {
    pub selected: usize,
    pub offset: usize,
}

impl ListCursor {
    pub fn down(&mut self, len: usize) {
        if len > 0 {
            self.selected = (self.selected + 1).min(len - 1);
        }
    }

    pub fn up(&mut self) {
        self.selected = self.selected.saturating_sub(1);
    }

    pub fn page_down(&mut self, len: usize, page: usize) {
        if len > 0 {
            self.selected = (self.selected + page.max(1)).min(len - 1);
        }
    }

    pub fn page_up(&mut self, page: usize) {
        self.selected = self.selected.saturating_sub(page.max(1));
    }

    pub fn first(&mut self) {
        self.selected = 0;
    }

    pub fn last(&mut self, len: usize) {
        self.selected = len.saturating_sub(1);
    }

    /// Keeps the selection inside a list that shrank.
    pub fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
    }

    /// The rows to draw for a window of `height` rows, scrolled so the selection shows.
    pub fn visible(&mut self, len: usize, height: usize) -> std::ops::Range<usize> {
        self.clamp(len);
        if height == 0 || len == 0 {
            return 0..0;
        }
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
        self.offset..(self.offset + height).min(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_the_selection() {
        let mut cursor = ListCursor::default();
        assert_eq!(cursor.visible(100, 10), 0..10);
        for _ in 0..15 {
            cursor.down(100);
        }
        assert_eq!(cursor.selected, 15);
        assert_eq!(cursor.visible(100, 10), 6..16);
        cursor.last(100);
        assert_eq!(cursor.visible(100, 10), 90..100);
        cursor.page_up(10);
        cursor.page_up(10);
        assert_eq!(cursor.selected, 79);
        assert_eq!(cursor.visible(100, 10), 79..89);
        assert_eq!(cursor.visible(5, 10), 0..5);
        assert_eq!(cursor.selected, 4);
        cursor.first();
        cursor.up();
        assert_eq!(cursor.selected, 0);
        assert_eq!(cursor.visible(0, 10), 0..0);
    }
}
