//! Bodies between Alchemy and the SDK: [`ByteStream`] into an S3 request body that keeps its
//! exact length, and an S3 response body back into a [`ByteStream`], both streamed.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use alchemy_stream::{ByteStream, Bytes, SizeHint, StreamError};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use http_body::{Body, Frame};

/// Where a request body leaves the error of its source, for the caller to find after the SDK
/// reported only that the request failed.
///
/// The SDK turns a failing body into a dispatch failure; the original [`StreamError`] (the
/// client that went away, the body shorter than its declared length) is what the caller needs,
/// so the body keeps it here.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyErrors(Arc<Mutex<Option<StreamError>>>);

impl BodyErrors {
    /// The error the body failed with, if it failed.
    pub(crate) fn take(&self) -> Option<StreamError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn record(&self, error: StreamError) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(error);
    }
}

/// A request body over a [`ByteStream`] that records its error in [`BodyErrors`].
struct RequestBody {
    stream: ByteStream,
    errors: BodyErrors,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.stream).poll_frame(cx) {
            Poll::Ready(Some(Err(error))) => {
                let message = format!("the request body failed: {error}");
                self.errors.record(error);
                Poll::Ready(Some(Err(std::io::Error::other(message))))
            }
            other => other.map(|frame| frame.map(|frame| frame.map_err(std::io::Error::other))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stream.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        Body::size_hint(&self.stream)
    }
}

/// An S3 request body streaming `stream`, with its size hint (an exact length stays exact),
/// and the slot where its error will be.
pub(crate) fn to_sdk(stream: ByteStream) -> (SdkByteStream, BodyErrors) {
    let errors = BodyErrors::default();
    let body = RequestBody {
        stream,
        errors: errors.clone(),
    };
    (SdkByteStream::from_body_1_x(body), errors)
}

/// A [`ByteStream`] over an S3 response body of `len` bytes.
///
/// The stream ends in [`StreamError::LengthMismatch`] if the connection delivers fewer or
/// more bytes than S3 announced.
pub(crate) fn from_sdk(body: SdkByteStream, len: u64) -> ByteStream {
    let chunks = futures::stream::try_unfold(body, |mut body| async move {
        match body.try_next().await {
            Ok(Some(chunk)) => Ok(Some((chunk, body))),
            Ok(None) => Ok(None),
            Err(error) => Err(StreamError::other(error)),
        }
    });
    ByteStream::from_stream(chunks).with_exact_len(len)
}
