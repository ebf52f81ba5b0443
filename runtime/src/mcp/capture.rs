//! Output capture capped while it is read: a run that prints gigabytes costs the server
//! a fixed amount of memory, never the output's size.

use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt};

/// One stream's bytes as kept: the first `head_cap` bytes, the last `tail_cap` bytes,
/// and the count of everything that went through.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl Capture {
    /// A capture keeping at most `head_cap + tail_cap` bytes.
    pub fn new(head_cap: usize, tail_cap: usize) -> Self {
        Capture {
            head: Vec::with_capacity(head_cap.min(64 * 1024)),
            tail: VecDeque::new(),
            head_cap,
            tail_cap,
            total: 0,
        }
    }

    /// Takes the next chunk of the stream.
    pub fn push(&mut self, mut chunk: &[u8]) {
        self.total = self.total.saturating_add(chunk.len() as u64);
        let room = self.head_cap.saturating_sub(self.head.len());
        if room > 0 {
            let (now, rest) = chunk.split_at(room.min(chunk.len()));
            self.head.extend_from_slice(now);
            chunk = rest;
        }
        if self.tail_cap == 0 || chunk.is_empty() {
            return;
        }
        // Only the chunk's last tail_cap bytes can survive; skip the rest outright so
        // a large chunk costs one copy of at most tail_cap bytes.
        let keep = chunk.len().min(self.tail_cap);
        let chunk = chunk.get(chunk.len() - keep..).unwrap_or_default();
        let overflow = (self.tail.len() + chunk.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow.min(self.tail.len()));
        self.tail.extend(chunk);
    }

    /// Bytes the stream carried in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether bytes were dropped between head and tail.
    pub fn truncated(&self) -> bool {
        self.total > (self.head.len() + self.tail.len()) as u64
    }

    /// The last bytes of the stream as kept (the tail, or the head when nothing
    /// overflowed into the tail), for looking at what the stream ended with.
    pub fn ending(&self) -> Vec<u8> {
        let mut all: Vec<u8> = Vec::with_capacity(self.head.len() + self.tail.len());
        if !self.truncated() {
            all.extend_from_slice(&self.head);
        }
        all.extend(self.tail.iter());
        all
    }

    /// Removes the stream's last `n` bytes (they must lie within what was kept): used
    /// to take phantom's own closing lines out of the workload's stderr.
    pub fn drop_last(&mut self, n: usize) {
        let was_truncated = self.truncated();
        let from_tail = n.min(self.tail.len());
        self.tail.truncate(self.tail.len() - from_tail);
        let rest = n - from_tail;
        if rest > 0 && !was_truncated {
            self.head.truncate(self.head.len().saturating_sub(rest));
        }
        self.total = self.total.saturating_sub(n as u64);
    }

    /// Shrinks the kept tail to `tail_cap` bytes (after `drop_last` used the slack).
    pub fn limit_tail(&mut self, tail_cap: usize) {
        let overflow = self.tail.len().saturating_sub(tail_cap);
        self.tail.drain(..overflow);
        self.tail_cap = tail_cap;
    }

    /// The text for the model: head, a marker naming what was left out, tail. Invalid
    /// UTF-8 (or a character cut at the edge) becomes U+FFFD.
    pub fn render(&self) -> String {
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        if !self.truncated() {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail);
            return String::from_utf8_lossy(&all).into_owned();
        }
        let omitted = self.total - (self.head.len() + tail.len()) as u64;
        format!(
            "{}\n[... {omitted} bytes omitted ...]\n{}",
            String::from_utf8_lossy(&self.head),
            String::from_utf8_lossy(&tail)
        )
    }
}

/// Reads `reader` to its end, handing each chunk to `push` (a capture's, behind a
/// lock, so what was read stays available if the read is abandoned).
pub async fn read_capped<R, F>(mut reader: R, mut push: F)
where
    R: AsyncRead + Unpin,
    F: FnMut(&[u8]),
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => push(buf.get(..n).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut c = Capture::new(4, 4);
        c.push(b"abc");
        c.push(b"def");
        assert_eq!(c.render(), "abcdef");
        assert!(!c.truncated());
        assert_eq!(c.total(), 6);
    }

    #[test]
    fn long_output_keeps_head_and_tail() {
        let mut c = Capture::new(3, 3);
        for chunk in [&b"0123"[..], b"456789", b"ab"] {
            c.push(chunk);
        }
        assert!(c.truncated());
        assert_eq!(c.total(), 12);
        assert_eq!(c.render(), "012\n[... 6 bytes omitted ...]\n9ab");
    }

    #[test]
    fn a_huge_chunk_costs_only_the_caps() {
        let mut c = Capture::new(8, 8);
        c.push(&vec![b'x'; 10 << 20]);
        assert_eq!(c.ending().len(), 8);
        assert_eq!(c.total(), 10 << 20);
    }

    #[test]
    fn drop_last_reaches_into_the_head_when_nothing_overflowed() {
        let mut c = Capture::new(4, 4);
        c.push(b"abcdef");
        c.drop_last(3);
        assert_eq!(c.render(), "abc");
        assert_eq!(c.total(), 3);
    }
}
