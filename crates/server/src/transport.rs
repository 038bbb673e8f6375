//! The HTTP/1.1 transport under the router: how long a client may take to send its headers
//! and its body, how long a kept-alive connection may sit idle, how many connections are
//! served at once and how many requests one connection may carry.
//!
//! `axum::serve` holds an idle, slow-header or slow-body connection forever (a thousand idle
//! sockets from one client took the server offline), and offers no setting for it, so this
//! accept loop drives hyper itself.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response};
use axum::Router;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What the transport allows a client.
#[derive(Clone, Debug)]
pub struct Limits {
    /// From the moment a connection is ready for a request (just accepted, or after a
    /// response on a kept-alive one) to the end of the request's headers: this closes idle
    /// and slow-header connections alike.
    pub header_read_timeout: Duration,
    /// From the end of the headers to the end of the body, however it trickles in.
    pub body_read_timeout: Duration,
    /// Connections served at once; the next waits in the listen backlog until one closes.
    pub max_connections: usize,
    /// Requests on one kept-alive connection; the last response says `Connection: close`.
    pub max_requests_per_connection: usize,
    /// How long shutdown waits for requests in flight before it drops them.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_requests_per_connection: 1000,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, so that the connection
/// cap, not the limit, is what a flood of sockets meets. Returns the limit now in force.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then lets requests
/// in flight finish (for at most [`Limits::shutdown_grace`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // At most u32::MAX, so that shutdown can wait for every permit at once.
    let permits = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, u32::MAX as usize),
    ));
    let stop = tokio::sync::watch::Sender::new(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed.
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service =
            hyper::service::service_fn(connection_service(app.clone(), peer, limits.clone()));
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stopping = stop.subscribe();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = async { stopping.wait_for(|stop| *stop).await.map(|_| ()) } => {
                    // Finishes the request in flight, if any, then closes.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    stop.send_replace(true);
    // Every connection holds a permit until it ends: all of them back means all ended.
    let all = u32::try_from(limits.max_connections.clamp(1, u32::MAX as usize)).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.shutdown_grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "requests were still running {:?} after shutdown began; they were dropped",
            limits.shutdown_grace
        );
    }
    Ok(())
}

/// An accept that fails (out of file descriptors, most often) is retried after a pause:
/// retrying at once would spin while nothing can change.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A response being made.
type Responding =
    Pin<Box<dyn Future<Output = Result<Response<axum::body::Body>, Infallible>> + Send>>;

/// The service of one connection: each request carries the peer's address, its body reads
/// against a deadline, and the response to the last request allowed closes the connection.
fn connection_service(
    app: Router,
    peer: SocketAddr,
    limits: Limits,
) -> impl Fn(Request<Incoming>) -> Responding + Clone {
    let served = Arc::new(AtomicUsize::new(0));
    move |req: Request<Incoming>| {
        let app = app.clone();
        let served = served.fetch_add(1, Ordering::Relaxed) + 1;
        let limits = limits.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            parts.extensions.insert(ConnectInfo(peer));
            let body = DeadlineBody {
                body,
                deadline: Box::pin(tokio::time::sleep(limits.body_read_timeout)),
                timeout: limits.body_read_timeout,
            };
            let req = Request::from_parts(parts, axum::body::Body::new(body));
            let mut res = match app.oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            if served >= limits.max_requests_per_connection {
                res.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(res)
        })
    }
}

/// The request body, read against one deadline from the end of the headers. tower-http's
/// body timeout restarts with every frame, so a client sending a byte now and then would
/// hold the connection for ever; this one does not restart.
struct DeadlineBody {
    body: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

/// The error a body that missed its deadline reads as; the JSON extractor answers 408.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimedOut(pub Duration);

impl BodyTimedOut {
    /// The missed deadline somewhere in `e`'s chain of sources: a body read fails with it
    /// wrapped in the extractor's or axum's own error.
    pub fn in_chain<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimedOut> {
        std::iter::successors(Some(e), |e| e.source()).find_map(|e| e.downcast_ref())
    }
}

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(axum::Error::new)));
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let timeout = self.timeout;
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut(timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
