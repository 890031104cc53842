//! [`WireBody`]: a body as it goes to hyper, on the server's responses and the client's
//! requests.

use std::pin::Pin;
use std::task::{Context, Poll};

use alchemy_stream::{BoxError, Bytes, SizeHint};
use bytes::BytesMut;
use http::HeaderMap;
use http_body::{Body, Frame};

/// The largest chunk that [`WireBody`] makes by merging small ones: 16 KiB, HTTP/2's default
/// frame size.
const COALESCE_UP_TO: usize = 16 * 1024;

pin_project_lite::pin_project! {
    /// A body on its way to hyper, with two fixes for what hyper does with bodies as they are:
    ///
    /// - **Small chunks that are ready together go out as one**, up to 16 KiB. Over HTTP/2
    ///   every chunk is a frame, and a peer that receives a flood of tiny frames closes the
    ///   connection as abused (`ENHANCE_YOUR_CALM`). Chunks are only merged when the next one
    ///   is ready at once, so a body that trickles is not delayed.
    /// - **A declared length is checked before the last bytes go out.** hyper stops reading a
    ///   body once it has sent its `Content-Length`, so a body that declared fewer bytes than
    ///   it has would look complete to the peer. The end of such a body is polled first, and
    ///   its error aborts the message instead.
    pub(crate) struct WireBody<B> {
        #[pin]
        inner: B,
        // Data not yet handed out: merged chunks, or the last bytes of a body of declared
        // length, held until its end is confirmed.
        pending: Chunks,
        // Trailers that arrived after `pending`.
        trailers: Option<HeaderMap>,
        ended: bool,
    }
}

impl<B> WireBody<B> {
    pub(crate) fn new(inner: B) -> Self {
        Self {
            inner,
            pending: Chunks::Empty,
            trailers: None,
            ended: false,
        }
    }
}

impl<B> Body for WireBody<B>
where
    B: Body<Data = Bytes, Error: Into<BoxError>>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        if let Some(trailers) = this.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        if *this.ended {
            return Poll::Ready(this.pending.take().map(|data| Ok(Frame::data(data))));
        }
        loop {
            let at_declared_end = this.inner.size_hint().upper() == Some(0);
            let frame = match this.inner.as_mut().poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => frame,
                Poll::Ready(Some(Err(error))) => {
                    *this.ended = true;
                    this.pending.take();
                    return Poll::Ready(Some(Err(error.into())));
                }
                Poll::Ready(None) => {
                    *this.ended = true;
                    return Poll::Ready(this.pending.take().map(|data| Ok(Frame::data(data))));
                }
                Poll::Pending if this.pending.is_empty() || at_declared_end => {
                    return Poll::Pending;
                }
                Poll::Pending => {
                    return Poll::Ready(this.pending.take().map(|data| Ok(Frame::data(data))));
                }
            };
            match frame.into_data() {
                Ok(data) => {
                    this.pending.push(data);
                    let full = this.pending.len() >= COALESCE_UP_TO;
                    if full && this.inner.size_hint().upper() != Some(0) {
                        return Poll::Ready(this.pending.take().map(|data| Ok(Frame::data(data))));
                    }
                }
                Err(frame) => {
                    let Ok(trailers) = frame.into_trailers() else {
                        continue;
                    };
                    match this.pending.take() {
                        Some(data) => {
                            *this.trailers = Some(trailers);
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        None => return Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // Before the first poll, an inner body that is already at its end (an empty body) is
        // trusted, so that hyper sends no body at all; later, the end is only known once the
        // inner body has said so, with the last bytes held until then.
        self.pending.is_empty()
            && self.trailers.is_none()
            && (self.ended || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        let pending = self.pending.len() as u64;
        if self.ended {
            return SizeHint::with_exact(pending);
        }
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(pending));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(pending));
        }
        hint
    }
}

/// Chunks merged into one: the first is kept as it is; bytes are copied only once a second
/// one arrives.
enum Chunks {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Chunks {
    fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        *self = match std::mem::replace(self, Self::Empty) {
            Self::Empty => Self::One(chunk),
            Self::One(first) => {
                let mut many =
                    BytesMut::with_capacity((first.len() + chunk.len()).max(COALESCE_UP_TO));
                many.extend_from_slice(&first);
                many.extend_from_slice(&chunk);
                Self::Many(many)
            }
            Self::Many(mut many) => {
                many.extend_from_slice(&chunk);
                Self::Many(many)
            }
        };
    }

    fn len(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::One(bytes) => bytes.len(),
            Self::Many(bytes) => bytes.len(),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    fn take(&mut self) -> Option<Bytes> {
        match std::mem::replace(self, Self::Empty) {
            Self::Empty => None,
            Self::One(bytes) => Some(bytes),
            Self::Many(bytes) => Some(bytes.freeze()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use alchemy_stream::{ByteStream, StreamError};
    use futures::channel::mpsc;
    use futures::executor::block_on;
    use futures::stream;
    use futures::task::noop_waker;
    use http_body_util::{BodyExt, StreamBody};

    use super::*;

    fn poll(body: &mut Pin<Box<WireBody<ByteStream>>>) -> Poll<Option<Result<Bytes, String>>> {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        body.as_mut().poll_frame(&mut cx).map(|frame| {
            frame.map(|frame| match frame {
                Ok(frame) => Ok(frame.into_data().expect("a data frame")),
                Err(error) => Err(error.to_string()),
            })
        })
    }

    #[test]
    fn ready_chunks_go_out_as_one() {
        let mut body = Box::pin(WireBody::new(ByteStream::from_chunks(["ab", "c", "de"])));
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(
            poll(&mut body),
            Poll::Ready(Some(Ok(Bytes::from_static(b"abcde"))))
        );
        assert!(body.is_end_stream());
        assert_eq!(poll(&mut body), Poll::Ready(None));
    }

    #[test]
    fn a_chunk_is_not_held_back_when_the_next_is_not_ready() {
        let (tx, rx) = mpsc::unbounded::<Result<Bytes, StreamError>>();
        let mut body = Box::pin(WireBody::new(ByteStream::from_stream(rx)));
        tx.unbounded_send(Ok(Bytes::from_static(b"first"))).unwrap();
        assert_eq!(
            poll(&mut body),
            Poll::Ready(Some(Ok(Bytes::from_static(b"first"))))
        );
        assert_eq!(poll(&mut body), Poll::Pending);
        tx.unbounded_send(Ok(Bytes::from_static(b"second")))
            .unwrap();
        tx.close_channel();
        assert_eq!(
            poll(&mut body),
            Poll::Ready(Some(Ok(Bytes::from_static(b"second"))))
        );
        assert_eq!(poll(&mut body), Poll::Ready(None));
    }

    #[test]
    fn merging_stops_at_a_frame_and_large_chunks_are_not_copied() {
        let big = Bytes::from(vec![7u8; 3 * COALESCE_UP_TO]);
        let source = stream::iter([
            Ok::<_, StreamError>(big.clone()),
            Ok(Bytes::from_static(b"x")),
        ]);
        let mut body = Box::pin(WireBody::new(ByteStream::from_stream(source)));
        let Poll::Ready(Some(Ok(first))) = poll(&mut body) else {
            panic!("the first chunk did not come out");
        };
        assert_eq!(first.as_ptr(), big.as_ptr());
        assert_eq!(
            poll(&mut body),
            Poll::Ready(Some(Ok(Bytes::from_static(b"x"))))
        );
        assert_eq!(poll(&mut body), Poll::Ready(None));
    }

    #[test]
    fn a_body_longer_than_declared_fails_before_its_last_bytes() {
        let short = ByteStream::from_chunks(["abc", "def"]).with_exact_len(3);
        let mut body = Box::pin(WireBody::new(short));
        match poll(&mut body) {
            Poll::Ready(Some(Err(error))) => {
                assert!(error.contains("declared a length of 3"), "{error}")
            }
            other => panic!("the overrun was not reported: {other:?}"),
        }
        assert_eq!(poll(&mut body), Poll::Ready(None));
    }

    #[test]
    fn the_last_bytes_of_a_declared_body_wait_for_its_end() {
        let (tx, rx) = mpsc::unbounded::<Result<Bytes, StreamError>>();
        let mut body = Box::pin(WireBody::new(ByteStream::from_stream(rx).with_exact_len(4)));
        tx.unbounded_send(Ok(Bytes::from_static(b"abcd"))).unwrap();
        assert_eq!(
            poll(&mut body),
            Poll::Pending,
            "the last bytes went out before the end"
        );
        assert_eq!(body.size_hint().exact(), Some(4));
        tx.close_channel();
        assert_eq!(
            poll(&mut body),
            Poll::Ready(Some(Ok(Bytes::from_static(b"abcd"))))
        );
        assert!(body.is_end_stream());
    }

    #[test]
    fn trailers_follow_the_data() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", http::HeaderValue::from_static("1"));
        let frames = stream::iter([
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"a"))),
            Ok(Frame::data(Bytes::from_static(b"b"))),
            Ok(Frame::trailers(trailers.clone())),
        ]);
        let collected = block_on(WireBody::new(StreamBody::new(frames)).collect()).unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(collected.to_bytes(), "ab");
    }

    #[test]
    fn an_empty_body_is_at_its_end_before_any_poll() {
        assert!(WireBody::new(ByteStream::empty()).is_end_stream());
        assert!(!WireBody::new(ByteStream::from("x")).is_end_stream());
    }
}
