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
                let mut many = BytesMut::with_capacity((first.len() + chunk.len()).max(COALESCE_UP_TO));
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
