//! JSON bodies for the answers hyper gives by itself. A request hyper cannot parse (a malformed
//! request line or header line: 400; a URI too long: 414; header fields too large: 431) never
//! reaches the service: hyper writes a bodiless answer and closes the connection, and it has
//! no option to say more. So the connection's writes are watched for exactly that answer (the
//! status, `content-length: 0`, nothing after the head: no answer of ghpulse's own looks like
//! it, every error carries a body) and it is replaced by the same answer with a JSON error body,
//! as every other error has.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ErrorBody;

/// A connection's stream whose writes of hyper's own error answers are given a JSON body.
pub struct JsonParseErrors<S> {
    inner: S,
    /// The answer written in place of hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<S> JsonParseErrors<S> {
    pub fn new(inner: S) -> JsonParseErrors<S> {
        JsonParseErrors {
            inner,
            replacement: None,
        }
    }
}

/// What a client is told for each status hyper answers by itself.
fn message(status: StatusCode) -> Option<&'static str> {
    match status {
        StatusCode::BAD_REQUEST => {
            Some("malformed request: its request line or a header line is not HTTP/1.1")
        }
        StatusCode::URI_TOO_LONG => Some("request URI too long"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Some("request header fields too large"),
        _ => None,
    }
}

/// The same answer with a JSON body, when `written` is one of hyper's bodiless answers to a
/// request it could not parse and nothing else.
fn replacement(written: &[u8]) -> Option<Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut head = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(len) = head.parse(written).ok()? else {
        return None;
    };
    let status = StatusCode::from_u16(head.code?).ok()?;
    let error = message(status)?;
    let is = |h: &httparse::Header, name: &str| h.name.eq_ignore_ascii_case(name);
    let empty = head
        .headers
        .iter()
        .any(|h| is(h, "content-length") && h.value == b"0");
    if len != written.len() || !empty || head.headers.iter().any(|h| is(h, "content-type")) {
        return None;
    }
    let body = serde_json::to_vec(&ErrorBody {
        error: error.into(),
    })
    .ok()?;
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default(),
        body.len()
    )
    .into_bytes();
    // hyper's own lines (`connection: close`, `date`) stay.
    for h in head.headers.iter().filter(|h| !is(h, "content-length")) {
        answer.extend_from_slice(h.name.as_bytes());
        answer.extend_from_slice(b": ");
        answer.extend_from_slice(h.value);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"\r\n");
    answer.extend_from_slice(&body);
    Some(answer)
}

impl<S: AsyncWrite + Unpin> JsonParseErrors<S> {
    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((answer, written)) = &mut self.replacement {
            if *written == answer.len() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &answer[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `written` in full when it is one of hyper's own error answers.
    fn replaced(
        &mut self,
        written: &[u8],
        cx: &mut Context<'_>,
    ) -> Option<Poll<io::Result<usize>>> {
        let answer = replacement(written)?;
        self.replacement = Some((answer, 0));
        Some(match self.poll_replacement(cx) {
            // The rest is written by the flush or shutdown that follows.
            Poll::Ready(Ok(())) | Poll::Pending => Poll::Ready(Ok(written.len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        })
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonParseErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for JsonParseErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_replacement(cx))?;
        if let Some(done) = self.replaced(buf, cx) {
            return done;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_replacement(cx))?;
        let mut parts = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (parts.next(), parts.next())
            && let Some(done) = self.replaced(only, cx)
        {
            return done;
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 21:01:03 GMT\r\n\r\n";

    fn split(answer: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8(answer.to_vec()).expect("UTF-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        (head.to_string(), serde_json::from_str(body).expect("JSON"))
    }

    #[test]
    fn hyper_s_bodiless_answers_get_a_json_body_and_keep_their_headers() {
        let answer = replacement(HYPER_431).expect("replaced");
        let (head, body) = split(&answer);
        let body_len = serde_json::to_vec(&body).expect("JSON").len();
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n\
                 content-length: {body_len}\r\nconnection: close\r\ndate: Tue, 01 Dec 2026 21:01:03 GMT"
            )
        );
        assert_eq!(body["error"], "request header fields too large");
        for status in ["400 Bad Request", "414 URI Too Long"] {
            let hyper =
                format!("HTTP/1.1 {status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
            let (head, body) = split(&replacement(hyper.as_bytes()).expect("replaced"));
            assert!(
                head.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{head}"
            );
            assert!(body["error"].is_string());
        }
    }

    #[test]
    fn every_other_write_passes_untouched() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n";
        let with_body = [HYPER_431, b"{}"].concat();
        let after_another = [b"[1,2,3]".as_slice(), HYPER_431].concat();
        for written in [
            &ours[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
            &HYPER_431[..HYPER_431.len() - 2],
            &with_body,
            &after_another,
            b"[{\"id\":\"1\"}]",
            b"",
        ] {
            assert_eq!(
                replacement(written),
                None,
                "{}",
                String::from_utf8_lossy(written)
            );
        }
    }

    #[tokio::test]
    async fn the_replacement_is_what_reaches_the_socket() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // A small pipe: the replacement takes several writes, the last ones by the shutdown.
        let (mut client, server) = tokio::io::duplex(64);
        let mut server = JsonParseErrors::new(server);
        let writer = tokio::spawn(async move {
            let n = server.write(HYPER_431).await.expect("write");
            assert_eq!(n, HYPER_431.len(), "hyper's answer is taken whole");
            server.shutdown().await.expect("shutdown");
        });
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.expect("read");
        writer.await.expect("writer");
        assert_eq!(Some(got), replacement(HYPER_431));
    }
}
