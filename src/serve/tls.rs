//! TLS for both protocols (`--tls-cert`, `--tls-key`), from the same PEM
//! files: tonic's for Flight SQL, tokio-rustls for HTTP. Both use rustls
//! with ring.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

use crate::error::{Error, Result};

/// The PEM files of the server's certificate chain and private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The files, read and checked, for each protocol.
pub(super) struct Tls {
    pub(super) grpc: tonic::transport::ServerTlsConfig,
    pub(super) http: TlsAcceptor,
}

/// How long a client may take over its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Handshakes under way at once; past this, new connections wait.
const MAX_HANDSHAKES: usize = 256;

impl Tls {
    pub(super) fn load(files: &TlsFiles) -> Result<Tls> {
        let read = |path: &Path| std::fs::read(path).map_err(|e| Error::io(path, e));
        let (cert, key) = (read(&files.cert)?, read(&files.key)?);
        let chain = CertificateDer::pem_slice_iter(&cert)
            .collect::<std::result::Result<Vec<_>, _>>()
            .ok()
            .filter(|chain| !chain.is_empty())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--tls-cert {}: no PEM certificate in it; give the certificate chain (-----BEGIN CERTIFICATE-----), server certificate first",
                    files.cert.display()
                ))
            })?;
        let private = PrivateKeyDer::from_pem_slice(&key).map_err(|_| {
            Error::Usage(format!(
                "--tls-key {}: no PEM private key in it; give the key of the certificate (-----BEGIN PRIVATE KEY-----)",
                files.key.display()
            ))
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private))
            .map_err(|e| {
                Error::Usage(format!(
                    "--tls-cert {} and --tls-key {} do not make a usable pair ({e}); give the key the certificate was made for",
                    files.cert.display(),
                    files.key.display()
                ))
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let identity = tonic::transport::Identity::from_pem(cert, key);
        Ok(Tls {
            grpc: tonic::transport::ServerTlsConfig::new().identity(identity),
            http: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// HTTP connections handed to axum once their TLS handshake is done; the
/// handshakes run beside the accept loop, so a slow or broken client delays
/// only itself.
pub(super) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    pub(super) fn new(tcp: TcpListener, addr: SocketAddr, acceptor: TlsAcceptor) -> Self {
        let (done, ready) = mpsc::channel(64);
        let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(turn) = Arc::clone(&handshakes).acquire_owned().await else {
                    break;
                };
                let accepted = tokio::select! {
                    accepted = tcp.accept() => accepted,
                    // The server stopped: stop accepting.
                    () = done.closed() => break,
                };
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then go on.
                        tracing::warn!("accepting an HTTPS connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (done, acceptor) = (done.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let _turn = turn;
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = done.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer}: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer}: timed out"),
                    }
                });
            }
        });
        TlsListener { ready, addr }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}
