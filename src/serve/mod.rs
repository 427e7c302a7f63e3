//! `clearsight serve`: the published marts (and the loaded tables) as a read-only PostgreSQL
//! endpoint for BI tools, on the protocol crates `pgwire` and `datafusion-postgres`.
//!
//! - [`live`]: each query on the run that is live when it starts, in its own memory pool;
//! - [`handlers`]: authentication (SCRAM-SHA-256) and both query protocols;
//! - [`readonly`]: the allow list of statements that only read.
//!
//! The accept loop is ours so that SIGTERM stops it: no new connections, open ones get a few
//! seconds to finish, then the process exits 0.

pub mod handlers;
pub mod live;
pub mod readonly;

use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pgwire::tokio::process_socket;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::rustls::{self, pki_types::CertificateDer, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::error::{Error, Result};
use handlers::{Access, Connection, Shared};
use live::LiveMarts;

/// How long open connections get to finish after SIGTERM.
const DRAIN: Duration = Duration::from_secs(10);

/// Validated settings of `serve`.
pub struct ServeOptions {
    pub bind: SocketAddr,
    pub access: Access,
    /// PEM certificate chain and private key: TLS when both are set.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl ServeOptions {
    /// Checks what only a whole set of settings can tell: a password is required unless only
    /// this machine can connect.
    pub fn new(
        bind: SocketAddr,
        user: String,
        password: Option<String>,
        tls: Option<(PathBuf, PathBuf)>,
    ) -> Result<Self> {
        let access = match password.filter(|p| !p.is_empty()) {
            Some(password) => Access::Password { user, password },
            None if bind.ip().is_loopback() => Access::Trust,
            None => {
                return Err(Error::Usage(format!(
                    "serve --bind {bind}: other machines could connect; set \
                     CLEARSIGHT_SERVE_PASSWORD (or bind 127.0.0.1)"
                )))
            }
        };
        Ok(ServeOptions { bind, access, tls })
    }
}

/// A line on stderr, with the time: one per connection, per failed query, per new run.
pub fn log(line: &str) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
    eprintln!("{now} serve: {line}");
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn serve(options: ServeOptions, live: LiveMarts) -> Result<()> {
    live.warm().await?;
    let address = options.bind.to_string();
    let tls = match &options.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key).map_err(|m| Error::serve(&address, m))?),
        None => None,
    };
    let listener = TcpListener::bind(options.bind)
        .await
        .map_err(|e| Error::serve(&address, e))?;
    let local = listener.local_addr()?;
    if matches!(options.access, Access::Trust) {
        log("no password set (CLEARSIGHT_SERVE_PASSWORD): any local user may connect");
    }
    let secure = if tls.is_some() { " with TLS" } else { "" };
    log(&format!("listening on {local}{secure} (read-only)"));
    let shared = Arc::new(Shared::new(Arc::new(live), options.access));
    let connections = accept_until_stopped(&listener, shared, tls).await?;
    drain(connections).await;
    Ok(())
}

async fn accept_until_stopped(
    listener: &TcpListener,
    shared: Arc<Shared>,
    tls: Option<TlsAcceptor>,
) -> Result<JoinSet<()>> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    log(&format!("{peer}: connected"));
                    let handlers = Arc::new(Connection::new(shared.clone()));
                    let tls = tls.clone();
                    connections.spawn(async move {
                        match process_socket(socket, tls, handlers).await {
                            Ok(()) => log(&format!("{peer}: closed")),
                            Err(e) => log(&format!("{peer}: closed: {e}")),
                        }
                    });
                }
                Err(e) => log(&format!("accept failed: {e}")),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    Ok(connections)
}

/// After SIGTERM: open connections get [`DRAIN`] to finish, then they are dropped.
async fn drain(mut connections: JoinSet<()>) {
    let open = connections.len();
    log(&format!("shutting down: {open} open connection(s)"));
    let finished = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        log(&format!(
            "{} connection(s) still open after {DRAIN:?}: closed",
            connections.len()
        ));
        connections.abort_all();
    }
    log("stopped");
}

fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> std::result::Result<TlsAcceptor, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let open = |p: &PathBuf| {
        File::open(p)
            .map(BufReader::new)
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let certs = rustls_pemfile::certs(&mut open(cert)?)
        .collect::<std::result::Result<Vec<CertificateDer>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", cert.display()));
    }
    let key_der = rustls_pemfile::private_key(&mut open(key)?)
        .map_err(|e| format!("{}: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no PEM private key in it", key.display()))?;
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| format!("{} / {}: {e}", cert.display(), key.display()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
