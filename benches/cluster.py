"""The KPI job beyond one machine: on a lake in a local folder, on the same
lake in an S3-compatible bucket (SeaweedFS on loopback), and on a Ballista
cluster of a scheduler and two executors (each its own process, on this
machine) reading that bucket.

Called by benches/cluster.sh, which builds motcua with `--features
distributed` and generates the exports. Wall time, CPU time and peak RSS
are the `motcua kpi` process's; for the cluster, the peak RSS of the
scheduler and of each executor is measured too (they run for the whole
step and are stopped after it).
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

from bench import fresh, measure, step

FEEDS = [
    ("units", "units.csv"),
    ("unit_changes", "unit_changes.csv"),
    ("targets", "targets.csv"),
    ("dossiers", "dossiers.csv"),
    ("portal_events", "portal_events.ndjson"),
    ("signatures", "signatures.csv"),
]
KEY, SECRET, BUCKET = "bench", "bench-secret", "lake"
LABELS = {"folder": "folder", "bucket": "bucket (one process)", "cluster": "cluster (2 executors)"}


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def start_weed(weed, work):
    """SeaweedFS's `weed mini` on loopback with one bucket; returns (process, env)."""
    data = os.path.join(work, "weed")
    fresh(data)
    os.makedirs(data)
    config = os.path.join(data, "s3.json")
    with open(config, "w") as f:
        f.write('{"identities": [{"name": "%s", "credentials": [{"accessKey": "%s", "secretKey": "%s"}],'
                ' "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}' % (KEY, KEY, SECRET))
    p = free_ports(10)
    log = open(os.path.join(data, "weed.log"), "w")
    proc = subprocess.Popen(
        [weed, "mini", f"-dir={data}/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
         "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
         f"-master.port={p[0]}", f"-master.port.grpc={p[1]}", f"-volume.port={p[2]}",
         f"-volume.port.grpc={p[3]}", f"-filer.port={p[4]}", f"-filer.port.grpc={p[5]}",
         f"-s3.port={p[6]}", f"-s3.port.grpc={p[7]}", f"-admin.port={p[8]}", f"-admin.port.grpc={p[9]}",
         f"-s3.config={config}", f"-bucket={BUCKET}", f"-s3.localSocket={data}/s3.sock",
         f"-filer.localSocket={data}/filer.sock"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.time() + 60
    while "All enabled components are running" not in open(os.path.join(data, "weed.log")).read():
        if time.time() > deadline or proc.poll() is not None:
            sys.exit("weed mini did not start; see " + os.path.join(data, "weed.log"))
        time.sleep(0.2)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{p[6]}", "AWS_ALLOW_HTTP": "true",
           "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1"}
    return proc, env


def announce(argv, work, name):
    """Starts a long-running `motcua cluster` process; returns it and the line it announces itself by."""
    err = open(os.path.join(work, f"{name}.log"), "w")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    line = proc.stdout.readline().decode().strip()
    if not line:
        sys.exit(f"{' '.join(argv)} stopped; see {work}/{name}.log")
    return proc, line


def stop(proc):
    """SIGTERM, then the process's peak RSS in MB."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, _, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:
        return float("nan")
    return usage.ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--weed", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--from", dest="start", default="2024-01-01")
    p.add_argument("--to", dest="end", default="2024-12-01")
    p.add_argument("--more", nargs="*", default=[],
                   help="more dossier exports (other seeds) ingested into the bucket's lake after the first")
    p.add_argument("--setups", default="folder,bucket,cluster",
                   help="which KPI runs to time, of folder, bucket, cluster")
    a = p.parse_args()
    setups = a.setups.split(",")
    if not setups or any(s not in LABELS for s in setups):
        p.error(f"--setups: a comma-separated list of {', '.join(LABELS)}")
    if a.more and "folder" in setups:
        p.error("--more adds dossiers to the bucket's lake only: leave folder out of --setups")
    os.environ["MOTCUA_PII_KEY"] = "bench-key-0123456789abcdef"
    exports = os.path.join(a.work, "exports")
    weed, s3_env = start_weed(a.weed, a.work)
    os.environ.update(s3_env)
    folder = os.path.join(a.work, "cluster-lake")
    bucket = f"s3://{BUCKET}/bench"
    processes = []
    try:
        lakes = ([folder] if "folder" in setups else []) + [bucket]
        for lake in lakes:
            if lake == folder:
                fresh(folder)
            for feed, name in FEEDS:
                wall, _, rss = measure([a.bin, "-q", "ingest", "--lake", lake, feed, os.path.join(exports, name)])
                print(f"  ingest {feed} → {lake}: {wall:.1f} s, {rss:.0f} MB", flush=True)
        for more in a.more:
            wall, _, rss = measure([a.bin, "-q", "ingest", "--lake", bucket, "dossiers", more])
            print(f"  ingest dossiers {more} → {bucket}: {wall:.1f} s, {rss:.0f} MB", flush=True)
        scheduler, line = announce([a.bin, "cluster", "scheduler", "--bind", "127.0.0.1:0"], a.work, "scheduler")
        processes.append(scheduler)
        url = line.rsplit(" ", 1)[-1]
        for i in range(2):
            spill = os.path.join(a.work, f"executor-{i}")
            fresh(spill)
            os.makedirs(spill)
            proc, _ = announce([a.bin, "cluster", "executor", "--scheduler", url, "--vcores", "1",
                                "--work-dir", spill], a.work, f"executor-{i}")
            processes.append(proc)
        # Executors register with their first poll.
        time.sleep(2)
        span = ["--grain", "month", "--from", a.start, "--to", a.end]
        outs = {"folder": os.path.join(a.work, "out-folder")}
        runs = {
            "folder": (lambda: fresh(outs["folder"]),
                       [a.bin, "-q", "kpi", "--lake", folder, "--out", outs["folder"], *span]),
            "bucket": (None, [a.bin, "-q", "kpi", "--lake", bucket, "--out", f"s3://{BUCKET}/out-bucket", *span]),
            "cluster": (None, [a.bin, "-q", "kpi", "--lake", bucket, "--out", f"s3://{BUCKET}/out-cluster",
                               "--cluster", url, *span]),
        }
        results = step("kpi", {LABELS[s]: runs[s] for s in setups}, a.repeat)
        peaks = [stop(p) for p in processes]
    finally:
        for proc in processes:
            if proc.poll() is None:
                proc.kill()
        weed.terminate()
        weed.wait()
        for i in range(2):
            fresh(os.path.join(a.work, f"executor-{i}"))
    base = next(iter(results.values()))[0]
    lines = [f"| KPI job | wall s | CPU s (the command) | peak RSS MB (the command) | wall / {next(iter(results))} |",
             "|---|---|---|---|---|"]
    for name, (wall, cpu, rss) in results.items():
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {wall / base:.2f} |")
    lines.append("")
    lines.append(f"Cluster processes' peak RSS: scheduler {peaks[0]:.0f} MB, executors "
                 + ", ".join(f"{x:.0f} MB" for x in peaks[1:]))
    table = "\n".join(lines)
    print(table)
    name = "cluster-results.md" if not a.more else f"cluster-results-{1 + len(a.more)}-samples.md"
    with open(os.path.join(a.work, name), "w") as f:
        f.write(table + "\n")


if __name__ == "__main__":
    main()
