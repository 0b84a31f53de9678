//! A TCP forwarder that a test can cut and restore, to play a database outage without touching
//! the real server.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

pub struct TcpProxy {
    port: u16,
    upstream: SocketAddr,
    serving: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        Self {
            port,
            upstream,
            serving: Some(spawn_serve(listener, upstream)),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Closes the listener and every forwarded connection, and returns once they are closed:
    /// clients see their sockets die and new connections refused, as when the server goes down.
    pub async fn cut(&mut self) {
        if let Some((stop, serving)) = self.serving.take() {
            let _ = stop.send(());
            let _ = serving.await;
        }
    }

    /// Listens again on the same port, as when the server comes back.
    pub async fn restore(&mut self) {
        self.cut().await;
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serving = Some(spawn_serve(listener, self.upstream));
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some((_, serving)) = self.serving.take() {
            serving.abort();
        }
    }
}

fn spawn_serve(
    listener: TcpListener,
    upstream: SocketAddr,
) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel();
    (stop, tokio::spawn(serve(listener, upstream, stopped)))
}

async fn serve(listener: TcpListener, upstream: SocketAddr, mut stopped: oneshot::Receiver<()>) {
    // Owned here, so stopping closes every forwarded connection too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            accepted = listener.accept() => {
                let Ok((mut inbound, _)) = accepted else { continue };
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                while connections.try_join_next().is_some() {}
            }
        }
    }
    drop(listener);
    // Aborts the forwarders and waits until they (and their sockets) are gone.
    connections.shutdown().await;
}

/// The socket address a `scheme://host:port/...` URL points at.
pub async fn upstream_of(url: &str, default_port: u16) -> SocketAddr {
    let parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap().to_owned();
    let port = parsed.port().unwrap_or(default_port);
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .unwrap()
        .next()
        .unwrap()
}

/// `url` with its host and port replaced by the proxy's.
pub fn via(url: &str, proxy: &TcpProxy) -> String {
    let mut parsed = url::Url::parse(url).unwrap();
    parsed.set_host(Some("127.0.0.1")).unwrap();
    parsed.set_port(Some(proxy.port())).unwrap();
    parsed.to_string()
}
