//! Graceful shutdown in three phases. On SIGTERM or SIGINT the process starts **draining**:
//! readiness answers 503 `{"status":"draining"}` on every listener and the gRPC health service
//! reports NOT_SERVING, while the listeners keep accepting and serving for
//! `GATEHOUSE_SHUTDOWN_DELAY`, the time a load balancer or Kubernetes needs to stop routing new
//! connections here. Then it is **stopping**: every listener stops accepting, in-flight requests
//! get `GATEHOUSE_SHUTDOWN_GRACE` to finish, and the process exits 0.

use std::time::Duration;

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Serving,
    Draining,
    Stopping,
}

/// A latch every server and health check watches.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<Phase>,
}

impl Shutdown {
    /// Starts listening for SIGTERM/SIGINT; after one, drains for `delay`, then stops.
    pub fn on_signals(delay: Duration) -> Self {
        let (tx, rx) = watch::channel(Phase::Serving);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!(
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "shutdown signal received; draining (readiness 503) before the listeners close"
            );
            let _ = tx.send(Phase::Draining);
            tokio::time::sleep(delay).await;
            tracing::info!("listeners closing; finishing in-flight requests");
            let _ = tx.send(Phase::Stopping);
        });
        Self { rx }
    }

    /// Resolves once the listeners must stop accepting.
    pub async fn wait(mut self) {
        let _ = self.rx.wait_for(|phase| *phase >= Phase::Stopping).await;
    }

    /// Resolves once draining has begun.
    pub async fn draining(mut self) {
        let _ = self.rx.wait_for(|phase| *phase >= Phase::Draining).await;
    }

    /// Whether a shutdown has begun: readiness says no from then on.
    pub fn is_draining(&self) -> bool {
        *self.rx.borrow() >= Phase::Draining
    }
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
