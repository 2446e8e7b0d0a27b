//! The HTTP/1.1 server (RFC 9110, RFC 9112) on hyper: GET and HEAD of files
//! with ranges and validators, directory pages, and the limits that keep a
//! server exposed to a network healthy: bounded request heads, a header
//! timeout, an idle timeout on every connection, a cap on connections, and
//! file bodies streamed in small pieces so memory does not grow with file
//! sizes or the number of downloads.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use fs_core::{FileType, Node, Volume};
use http_body_util::{BodyExt, Empty, Full, combinators::BoxBody};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderValue};
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

use super::conditional::Validators;
use super::deadline::Deadline;
use super::listing;
use super::paths::{Image, PathError, Target, Tree};
use super::range::{self, Ranged};

/// Bytes read from the image per piece of a file body.
pub const PIECE: usize = 128 * 1024;

/// Pieces queued between the reader and the connection: with the one being
/// read and the one being written, each download holds about
/// `(QUEUE + 2) * PIECE` bytes, whatever the file's size.
const QUEUE: usize = 2;

/// Largest request head (request line and headers) accepted; more is
/// answered 431 (RFC 6585 §5).
const MAX_HEAD: usize = 16 * 1024;

/// Most header fields in a request.
const MAX_HEADERS: usize = 64;

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Time a client has to send a whole request head.
    pub header_timeout: Duration,
    /// Time a connection may go without a byte moving either way.
    pub idle_timeout: Duration,
}

type ResBody = BoxBody<Bytes, io::Error>;

/// Serves `tree` on `listener` until `stop` completes, then lets the
/// connections in flight finish for up to a second.
pub async fn serve(
    listener: TcpListener,
    tree: Arc<Tree>,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS);
    let builder = Arc::new(builder);
    tokio::pin!(stop);
    loop {
        // A slot first, then accept: past the cap, connections wait in the
        // kernel's listen queue instead of costing memory here.
        let permit = tokio::select! {
            () = &mut stop => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    log::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let tree = Arc::clone(&tree);
        let builder = Arc::clone(&builder);
        let idle = limits.idle_timeout;
        tokio::spawn(async move {
            let io = TokioIo::new(Deadline::new(stream, idle));
            let svc = service_fn(move |req| {
                let tree = Arc::clone(&tree);
                async move { Ok::<_, Infallible>(respond(tree, req, peer, idle).await) }
            });
            if let Err(e) = builder.serve_connection(io, svc).await {
                log::debug!("{peer}: connection ended: {e}");
            }
            drop(permit);
        });
    }
    // Stop accepting; give downloads in flight a moment.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(Duration::from_secs(1), slots.acquire_many(all)).await;
}

/// Answers one request and logs it. Looking a path up and listing a
/// directory read the image (network requests, for a remote one), so the
/// answer is made on the blocking pool, never on the runtime's workers.
async fn respond(
    tree: Arc<Tree>,
    req: Request<Incoming>,
    peer: SocketAddr,
    idle: Duration,
) -> Response<ResBody> {
    // The request body is not used (GET and HEAD have none to speak of).
    let (parts, _body) = req.into_parts();
    let parts = Arc::new(parts);
    let p = Arc::clone(&parts);
    let res = tokio::task::spawn_blocking(move || answer(&tree, &p, idle))
        .await
        .unwrap_or_else(|e| {
            log::error!("{peer}: request handler failed: {e}");
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
        });
    let len = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| "-".to_string(), str::to_string);
    log::info!(
        "{peer} \"{} {} {:?}\" {} {len}",
        parts.method,
        parts.uri,
        parts.version,
        res.status().as_u16()
    );
    res
}

/// The answer to `req`, with its length always said, and for HEAD without
/// its body: the same status and headers as GET (RFC 9110 §9.3.2).
fn answer(tree: &Tree, req: &Parts, idle: Duration) -> Response<ResBody> {
    let mut res = answer_get(tree, req, idle);
    let len = res.body().size_hint().exact();
    if let Some(n) = len.filter(|_| !res.headers().contains_key(header::CONTENT_LENGTH)) {
        set(&mut res, header::CONTENT_LENGTH, &n.to_string());
    }
    if req.method == Method::HEAD {
        *res.body_mut() = empty();
    }
    res
}

/// The answer to `req` as for GET (`file` leaves the body out for HEAD,
/// so that no read is started).
fn answer_get(tree: &Tree, req: &Parts, idle: Duration) -> Response<ResBody> {
    let head = match req.method {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut res = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return res;
        }
    };
    let path = req.uri.path();
    let segs = match tree.split_http(path) {
        Ok(s) => s,
        Err(e) => return path_error(&e),
    };
    let target = match tree.resolve(&segs) {
        Ok(t) => t,
        Err(e) => return path_error(&e),
    };
    match target {
        Target::Images => {
            let rows = tree
                .images()
                .iter()
                .map(|i| listing::Row {
                    name: i.name.clone(),
                    is_dir: true,
                    kind: FileType::Directory,
                    size: 0,
                    mtime: String::new(),
                })
                .collect::<Vec<_>>();
            directory_page(req, "/", &rows)
        }
        Target::Node { image, node } => {
            if node.kind() == FileType::Directory {
                if !segs.dir_form {
                    return redirect_to_dir(&segs.names);
                }
                let rows = match image.vol.read_dir(node.id()) {
                    Ok(dir) => listing::rows(&image.vol, dir.entries()),
                    Err(e) => {
                        log::warn!("{}: {path}: {e}", image.shown);
                        return text(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "cannot read the directory\n",
                        );
                    }
                };
                let shown = if segs.names.is_empty() {
                    "/".to_string()
                } else {
                    format!("/{}/", segs.names.join("/"))
                };
                directory_page(req, &shown, &rows)
            } else if node.kind() != FileType::Regular || segs.dir_form {
                // Devices, FIFOs, sockets; or `file/`.
                text(StatusCode::NOT_FOUND, "not found\n")
            } else {
                let name = segs.names.last().map_or("", String::as_str);
                file(req, image, node, name, head, idle)
            }
        }
    }
}

/// The answer for a path that does not resolve.
fn path_error(e: &PathError) -> Response<ResBody> {
    if e.is_bad_request() {
        log::debug!("refused: {e}");
        text(StatusCode::BAD_REQUEST, "bad request path\n")
    } else if let PathError::Image { .. } = e {
        log::warn!("{e}");
        text(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the image\n")
    } else {
        text(StatusCode::NOT_FOUND, "not found\n")
    }
}

/// 301 from a directory's URL without the final slash to the one with it,
/// so that relative links in its page resolve inside it. The location is
/// made from the checked segments, never echoed from the request.
fn redirect_to_dir(names: &[String]) -> Response<ResBody> {
    let mut loc = String::from("/");
    for n in names {
        loc.push_str(&listing::encode_segment(n));
        loc.push('/');
    }
    let mut res = text(StatusCode::MOVED_PERMANENTLY, "moved\n");
    if let Ok(v) = HeaderValue::from_str(&loc) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn directory_page(req: &Parts, shown: &str, rows: &[listing::Row]) -> Response<ResBody> {
    let accept = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (body, kind) = if listing::wants_json(accept) {
        (listing::json(shown, rows), "application/json")
    } else {
        (listing::html(shown, rows), "text/html; charset=utf-8")
    };
    let mut res = full(StatusCode::OK, Bytes::from(body));
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    res
}

/// A file: validators, conditional requests, ranges, and the streamed body.
fn file(
    req: &Parts,
    image: &Image,
    node: Arc<Node>,
    name: &str,
    head: bool,
    idle: Duration,
) -> Response<ResBody> {
    let body = |start, len| {
        if head {
            Response::new(empty())
        } else {
            stream(&image.vol, Arc::clone(&node), start, len, idle)
        }
    };
    let size = node.attr().size;
    let v = Validators::of(image.identity, &node);
    let get = |name: header::HeaderName| req.headers.get(name).and_then(|v| v.to_str().ok());
    let mut res = if v.not_modified(get(header::IF_NONE_MATCH), get(header::IF_MODIFIED_SINCE)) {
        // 304 carries the validators and no body (RFC 9110 §15.4.5).
        let mut res = Response::new(empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let ranged = match get(header::RANGE) {
            Some(r) if v.range_applies(get(header::IF_RANGE)) => range::parse(r, size),
            _ => Ranged::Full,
        };
        match ranged {
            Ranged::Full => {
                let mut res = body(0, size);
                set(&mut res, header::CONTENT_LENGTH, &size.to_string());
                res
            }
            Ranged::Part { start, len } => {
                let mut res = body(start, len);
                *res.status_mut() = StatusCode::PARTIAL_CONTENT;
                set(&mut res, header::CONTENT_LENGTH, &len.to_string());
                let last = start + len - 1;
                set(
                    &mut res,
                    header::CONTENT_RANGE,
                    &format!("bytes {start}-{last}/{size}"),
                );
                res
            }
            Ranged::Unsatisfiable => {
                let mut res = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
                set(&mut res, header::CONTENT_RANGE, &format!("bytes */{size}"));
                return res;
            }
        }
    };
    let mime = mime_guess::from_path(name).first_or_octet_stream();
    set(&mut res, header::CONTENT_TYPE, mime.essence_str());
    set(&mut res, header::ETAG, &v.etag);
    set(&mut res, header::LAST_MODIFIED, &v.last_modified);
    res.headers_mut()
        .insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    res
}

fn set(res: &mut Response<ResBody>, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().insert(name, v);
    }
}

fn empty() -> ResBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

fn full(status: StatusCode, body: Bytes) -> Response<ResBody> {
    let mut res = Response::new(Full::new(body).map_err(|never| match never {}).boxed());
    *res.status_mut() = status;
    res
}

fn text(status: StatusCode, msg: &'static str) -> Response<ResBody> {
    let mut res = full(status, Bytes::from_static(msg.as_bytes()));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// A 200 response whose body is `len` bytes of `node` from `start`, read
/// piece by piece on the blocking pool (image reads are synchronous, and
/// may be network requests for a remote image) into a queue of
/// [`QUEUE`] pieces. A client that stops reading stops the reader: after
/// `idle` without room in the queue it gives up.
fn stream(
    vol: &Arc<Volume>,
    node: Arc<Node>,
    start: u64,
    len: u64,
    idle: Duration,
) -> Response<ResBody> {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(QUEUE);
    let vol = Arc::clone(vol);
    tokio::spawn(async move {
        let end = start + len;
        let mut off = start;
        while off < end {
            let want = usize::try_from(end - off).map_or(PIECE, |n| n.min(PIECE));
            let (v, n) = (Arc::clone(&vol), Arc::clone(&node));
            let piece = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; want];
                let got = crate::common::read_salvaging(&v, &n, off, &mut buf)
                    .map_err(|e| io::Error::other(format!("read error at offset {off}: {e}")))?;
                if got == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("file ends early at offset {off}"),
                    ));
                }
                buf.truncate(got);
                Ok(Bytes::from(buf))
            })
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)));
            let failed = piece.is_err();
            if let Ok(b) = &piece {
                off += b.len() as u64;
            }
            if let Err(e) = &piece {
                log::warn!("node {}: {e}", node.id());
            }
            if tx.send_timeout(piece, idle).await.is_err() || failed {
                return;
            }
        }
    });
    let mut res = Response::new(FileBody { rx, remaining: len }.boxed());
    *res.status_mut() = StatusCode::OK;
    res
}

/// A file body: the pieces the reader task queues.
struct FileBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    remaining: u64,
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.remaining = self.remaining.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            // The reader gave up: the body is short, and the connection
            // must not look like a complete answer.
            Poll::Ready(None) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file body ended early",
            )))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
