//! A paced server-sent-events body: content frames spaced by the profile's interval, then the tail
//! frames back to back. Written as a hand-rolled `Body` rather than a task feeding a channel so an
//! open stream costs one small struct and (when paced) one timer, and no extra task wake-ups.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::time::{Instant, Sleep};

use super::stats::Stats;

/// What must happen before the next frame may be produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    Open,
    /// Return `Pending` once: hyper flushes what it has buffered whenever the body is not ready,
    /// so each frame leaves as its own write instead of being coalesced with the next.
    Yield,
    /// Wait for the pacing timer.
    Pace,
}

/// Deadline-based pacing, so a slow poll does not push every later frame back.
struct Pacer {
    sleep: Pin<Box<Sleep>>,
    interval: Duration,
}

/// The body of one streamed answer; counts itself in [`Stats`] while alive.
pub(super) struct SseBody {
    content: Bytes,
    content_left: u32,
    tail: std::vec::IntoIter<Bytes>,
    gate: Gate,
    pacer: Option<Pacer>,
    stats: Arc<Stats>,
}

impl SseBody {
    /// `chunks` copies of `content`, `interval` apart (the first at once), then each `tail` frame.
    pub(super) fn new(content: Bytes, chunks: u32, interval: Duration, tail: Vec<Bytes>, stats: Arc<Stats>) -> Self {
        stats.stream_opened();
        let pacer = (chunks > 1 && !interval.is_zero())
            .then(|| Pacer { sleep: Box::pin(tokio::time::sleep_until(Instant::now())), interval });
        SseBody { content, content_left: chunks, tail: tail.into_iter(), gate: Gate::Open, pacer, stats }
    }

    fn next_frame(&mut self) -> Option<Bytes> {
        if self.content_left > 0 {
            self.content_left -= 1;
            self.gate = match &mut self.pacer {
                Some(pacer) if self.content_left > 0 => {
                    let next = pacer.sleep.deadline() + pacer.interval;
                    pacer.sleep.as_mut().reset(next);
                    Gate::Pace
                }
                _ => Gate::Yield,
            };
            return Some(self.content.clone());
        }
        let frame = self.tail.next()?;
        self.gate = if self.tail.len() > 0 { Gate::Yield } else { Gate::Open };
        Some(frame)
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        match this.gate {
            Gate::Open => {}
            Gate::Yield => {
                this.gate = Gate::Open;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Gate::Pace => {
                if let Some(pacer) = &mut this.pacer {
                    ready!(pacer.sleep.as_mut().poll(cx));
                }
            }
        }
        let Some(frame) = this.next_frame() else {
            return Poll::Ready(None);
        };
        this.stats.frame_sent();
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.content_left == 0 && self.tail.len() == 0
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        self.stats.stream_closed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(start_paused = true)]
    async fn content_is_paced_and_the_tail_follows_at_once() {
        let stats = Arc::new(Stats::default());
        let tail = vec![Bytes::from_static(b"finish"), Bytes::from_static(b"done")];
        let mut body = SseBody::new(Bytes::from_static(b"tok"), 3, Duration::from_millis(100), tail, stats.clone());
        assert_eq!(stats.snapshot().streams_open, 1);
        let start = Instant::now();
        let mut seen = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            seen.push((data, start.elapsed().as_millis()));
        }
        let expected: Vec<(Bytes, u128)> = vec![
            (Bytes::from_static(b"tok"), 0),
            (Bytes::from_static(b"tok"), 100),
            (Bytes::from_static(b"tok"), 200),
            (Bytes::from_static(b"finish"), 200),
            (Bytes::from_static(b"done"), 200),
        ];
        assert_eq!(seen, expected);
        assert!(body.is_end_stream());
        drop(body);
        assert_eq!(stats.snapshot().streams_open, 0);
        assert_eq!(stats.snapshot().frames_sent, 5);
    }

    #[tokio::test]
    async fn zero_chunks_sends_only_the_tail() {
        let stats = Arc::new(Stats::default());
        let tail = vec![Bytes::from_static(b"done")];
        let body = SseBody::new(Bytes::from_static(b"tok"), 0, Duration::from_millis(5), tail, stats);
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"done"));
    }
}
