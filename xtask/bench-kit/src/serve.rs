//! The HTTP/1.1 accept loop both yardsticks run on: TCP_NODELAY on every accepted socket (otherwise
//! Nagle meets delayed ACKs and adds a ~40 ms floor), one task per connection, graceful drain on shutdown.

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::HttpService;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

/// How long open connections (long SSE streams included) may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(2);

/// Back-off after a failed `accept`; fd exhaustion (EMFILE) would otherwise spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `service` on every connection `listener` accepts until `shutdown` resolves, then stops
/// accepting and waits up to [`DRAIN`] for in-flight connections.
pub async fn serve<S, B>(listener: TcpListener, service: S, shutdown: impl Future<Output = ()>)
where
    S: HttpService<Incoming, ResBody = B> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    // No timer is installed, so hyper skips its per-request header-read timeout: one less timer
    // reset per request, and a yardstick has no slowloris clients to fear.
    let http = http1::Builder::new();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // A socket that refuses NODELAY still serves, only slower; not worth dropping the client.
        let _ = stream.set_nodelay(true);
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            // Peer resets and aborted bodies end up here; they are the client's business, not ours.
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}
