//! Conversions between [`ByteStream`] and [`http_body::Body`] (http-body 1.x).

use std::any::Any;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures::stream::{Stream, StreamExt};
use http_body::{Body, Frame, SizeHint};

use crate::{BoxError, ByteStream, MaybeSend, StreamError};

impl Body for ByteStream {
    type Data = Bytes;
    type Error = StreamError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamError>>> {
        self.get_mut()
            .poll_next_unpin(cx)
            .map(|item| item.map(|chunk| chunk.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        self.is_done() || self.hint.upper() == Some(0)
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

impl ByteStream {
    /// A stream over the data frames of any [`Body`], keeping its size hint.
    ///
    /// Trailers are dropped. Body errors keep their meaning: a `StreamError` stays itself and
    /// an [`std::io::Error`] becomes [`StreamError::Io`]. A `ByteStream` passed in comes back
    /// as it is, without a wrapper.
    ///
    /// ```
    /// use alchemy_stream::ByteStream;
    /// use http_body_util::Full;
    ///
    /// # futures::executor::block_on(async {
    /// let body = ByteStream::from_body(Full::new(bytes::Bytes::from_static(b"hello")));
    /// assert_eq!(body.len(), Some(5));
    /// assert_eq!(body.collect(5).await?, "hello");
    /// # Ok::<(), alchemy_stream::StreamError>(())
    /// # }).unwrap();
    /// ```
    pub fn from_body<B>(body: B) -> Self
    where
        B: Body + MaybeSend + 'static,
        B::Error: Into<BoxError>,
    {
        let mut slot = Some(body);
        if let Some(stream) = (&mut slot as &mut dyn Any).downcast_mut::<Option<ByteStream>>() {
            if let Some(stream) = stream.take() {
                return stream;
            }
        }
        let Some(body) = slot else {
            return Self::empty();
        };
        let hint = body.size_hint();
        Self::from_chunk_stream(DataFrames { body }, hint)
    }
}

pin_project_lite::pin_project! {
    /// The data frames of a body, as chunks.
    struct DataFrames<B> {
        #[pin]
        body: B,
    }
}

impl<B> Stream for DataFrames<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Item = Result<Bytes, StreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut body = self.project().body;
        loop {
            let frame = match ready!(body.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(error)) => return Poll::Ready(Some(Err(StreamError::other(error)))),
                Some(Ok(frame)) => frame,
            };
            if let Ok(mut data) = frame.into_data() {
                return Poll::Ready(Some(Ok(data.copy_to_bytes(data.remaining()))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::io;

    use futures::executor::block_on;
    use futures::stream;
    use http_body_util::{BodyExt, Empty, Full, StreamBody};

    use super::*;

    #[test]
    fn is_a_body_with_the_exact_size_hint() {
        let stream = ByteStream::from_chunks(["abc", "de"]);
        assert_eq!(Body::size_hint(&stream).exact(), Some(5));
        assert!(!stream.is_end_stream());
        let collected = block_on(BodyExt::collect(stream)).unwrap().to_bytes();
        assert_eq!(collected, "abcde");
        assert!(ByteStream::empty().is_end_stream());
    }

    #[test]
    fn body_without_a_length_has_an_open_hint() {
        let stream = ByteStream::from_stream(stream::iter([Ok::<_, StreamError>("a")]));
        let hint = Body::size_hint(&stream);
        assert_eq!((hint.lower(), hint.upper()), (0, None));
        assert!(!stream.is_end_stream());
    }

    #[test]
    fn from_body_keeps_the_exact_size_hint() {
        let stream = ByteStream::from_body(Full::new(Bytes::from_static(b"hello")));
        assert_eq!(stream.len(), Some(5));
        assert_eq!(block_on(stream.collect(5)).unwrap(), "hello");

        let empty = ByteStream::from_body(Empty::<Bytes>::new());
        assert_eq!(empty.len(), Some(0));
        assert_eq!(block_on(empty.collect(0)).unwrap(), "");
    }

    #[test]
    fn from_body_skips_trailers() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("abc"));
        let frames = stream::iter([
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"ab"))),
            Ok(Frame::trailers(trailers)),
        ]);
        let stream = ByteStream::from_body(StreamBody::new(frames));
        assert_eq!(block_on(stream.collect(10)).unwrap(), "ab");
    }

    #[test]
    fn from_body_keeps_error_meaning() {
        let frames = stream::iter([
            Ok(Frame::data(Bytes::from_static(b"ab"))),
            Err(io::Error::new(io::ErrorKind::ConnectionAborted, "gone")),
        ]);
        let error = block_on(ByteStream::from_body(StreamBody::new(frames)).collect(10));
        assert!(
            matches!(&error, Err(StreamError::Io(e)) if e.kind() == io::ErrorKind::ConnectionAborted),
            "{error:?}"
        );

        let frames = stream::iter([Err::<Frame<Bytes>, _>(StreamError::TooLarge { limit: 1 })]);
        let error = block_on(ByteStream::from_body(StreamBody::new(frames)).collect(10));
        assert!(matches!(error, Err(StreamError::TooLarge { limit: 1 })));
    }

    #[test]
    fn from_body_unwraps_a_byte_stream() {
        let original = Bytes::from_static(b"zero copy");
        let stream = ByteStream::from_body(ByteStream::from(original.clone()));
        assert!(format!("{stream:?}").contains("bytes"), "{stream:?}");
        assert_eq!(
            block_on(stream.collect(100)).unwrap().as_ptr(),
            original.as_ptr()
        );
    }

    #[test]
    fn round_trip_through_a_foreign_body_keeps_the_length() {
        // `BoxBody` asks for `Send + Sync`, and hides the `ByteStream` from `from_body`.
        let body = BodyExt::boxed(ByteStream::from_chunks(["abc", "def"]));
        assert_eq!(Body::size_hint(&body).exact(), Some(6));
        let stream = ByteStream::from_body(body);
        assert_eq!(stream.len(), Some(6));
        assert_eq!(block_on(stream.collect(6)).unwrap(), "abcdef");
    }

    #[test]
    fn declared_body_length_is_enforced() {
        let frames = stream::iter([Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"ab")))]);
        let short = StreamBodyWithHint {
            inner: StreamBody::new(frames),
            hint: SizeHint::with_exact(4),
        };
        let error = block_on(ByteStream::from_body(short).collect(10)).unwrap_err();
        assert!(matches!(
            error,
            StreamError::LengthMismatch {
                expected: 4,
                actual: 2
            }
        ));
    }

    /// A body that declares a size hint its frames may not keep.
    struct StreamBodyWithHint<B> {
        inner: B,
        hint: SizeHint,
    }

    impl<B: Body + Unpin> Body for StreamBodyWithHint<B> {
        type Data = B::Data;
        type Error = B::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
            Pin::new(&mut self.inner).poll_frame(cx)
        }

        fn size_hint(&self) -> SizeHint {
            self.hint
        }
    }
}
