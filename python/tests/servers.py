"""Real servers on loopback for the remote-input tests: nginx (HTTP with Range requests, its
access log saying how many bytes each request was sent), moto_server (an S3 endpoint), and a
fault proxy in front of nginx that answers 503, resets connections, stalls, cuts bodies short
or swaps the object mid-read, on request.

A server that is not installed skips its tests, unless RAWARROW_REQUIRE_SERVERS is set (.ci/run
sets it after installing nginx and moto[server]): then it fails them.
"""

import http.client
import http.server
import os
import pathlib
import shutil
import socket
import socketserver
import subprocess
import threading
import time

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} in {seconds} s")


def need(program: str) -> str:
    found = shutil.which(program) or next(
        (str(p) for p in (pathlib.Path("/usr/sbin") / program,) if p.exists()), None
    )
    if found is None:
        if os.environ.get("RAWARROW_REQUIRE_SERVERS"):
            raise AssertionError(f"{program} is not installed (RAWARROW_REQUIRE_SERVERS is set)")
        pytest.skip(f"{program} is not installed")
    return found


class Nginx:
    """nginx serving `root` on 127.0.0.1 (Range requests, ETags); `served()` reads its log."""

    def __init__(self, root: pathlib.Path, work: pathlib.Path):
        self.root = root
        self.work = work
        self.port = free_port()
        self.log = work / "access.log"
        conf = work / "nginx.conf"
        # As root, nginx's workers would run as nobody, who cannot read pytest's folders.
        user = "user root root;" if os.geteuid() == 0 else ""
        conf.write_text(
            f"""
{user}
worker_processes 1;
error_log {work}/error.log;
pid {work}/nginx.pid;
daemon off;
events {{ worker_connections 256; }}
http {{
    log_format served '$request_method $uri $status $body_bytes_sent "$http_range"';
    access_log {self.log} served;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{self.port};
        root {root};
    }}
}}
"""
        )
        self.proc = subprocess.Popen(
            [need("nginx"), "-p", str(work), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_for_port(self.port, self.proc, "nginx")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def served(self) -> list:
        """(method, path, status, body bytes sent, Range header) of every request so far."""
        out = []
        if self.log.exists():
            for line in self.log.read_text().splitlines():
                method, path, status, sent, rng = line.split(" ", 4)
                out.append((method, path, int(status), int(sent), rng.strip('"')))
        return out

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Moto:
    """moto_server, a real S3 HTTP endpoint, on 127.0.0.1; `put` uploads objects."""

    def __init__(self, moto_server: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [moto_server, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.proc, "moto_server")
        import boto3

        self.s3 = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing-secret",
            region_name="us-east-1",
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict:
        """The environment that points rawarrow (object_store's AWS_* variables) at it."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing-secret",
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def put(self, bucket: str, key: str, path: pathlib.Path):
        try:
            self.s3.create_bucket(Bucket=bucket)
        except self.s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        self.s3.upload_file(str(path), bucket, key)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def moto_server() -> str:
    candidates = [shutil.which("moto_server"), str(pathlib.Path(os.sys.executable).parent / "moto_server")]
    found = next((c for c in candidates if c and pathlib.Path(c).exists()), None)
    if found is None:
        if os.environ.get("RAWARROW_REQUIRE_SERVERS"):
            raise AssertionError("moto_server is not installed (RAWARROW_REQUIRE_SERVERS is set)")
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    return found


class FaultProxy:
    """An HTTP proxy in front of `upstream` (host, port) that misbehaves on request.

    `faults` maps the last byte of a ranged GET to the faults its requests meet, one each, in
    order (requests run concurrently: keying by range keeps a plan deterministic; a retry of
    a cut body asks for the rest, which ends at the same byte): None (pass
    through), "503", "reset" (close the connection before answering), "stall" (answer nothing
    for `stall_seconds`), "short" (send half the body, then close), "swap" (from then on, every
    request for the object gets `swap_to`'s bytes and ETag instead: the object replaced
    mid-read).
    """

    def __init__(self, upstream_port: int, stall_seconds: float = 30.0):
        self.upstream_port = upstream_port
        self.faults = {}
        self.swap = None
        self.stall_seconds = stall_seconds
        self.requests = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self, head_only: bool):
                fault = None
                rng = self.headers.get("Range") or ""
                last = rng.split("-")[-1] if rng.startswith("bytes=") else ""
                planned = proxy.faults.get(int(last) if last.isdigit() else None)
                if not head_only and planned:
                    fault = planned.pop(0)
                path = self.path
                if fault == "swap":
                    proxy.swap = True
                if proxy.swap and proxy.swap_to:
                    path = proxy.swap_to
                proxy.requests.append((self.command, self.path, self.headers.get("Range"), fault))
                if fault == "503":
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    self.close_connection = True
                    return
                if fault == "stall":
                    time.sleep(proxy.stall_seconds)
                    self.close_connection = True
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("range", "if-match", "if-none-match")}
                conn.request(self.command, path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() in ("content-length", "connection", "transfer-encoding", "date", "server"):
                        continue
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)) if not head_only else resp.getheader("Content-Length", "0"))
                self.end_headers()
                if head_only:
                    return
                if fault == "short":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def do_GET(self):
                self.forward(False)

            def do_HEAD(self):
                self.forward(True)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.swap_to = None
        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def reset(self):
        self.faults = {}
        self.swap = None
        self.swap_to = None
        self.requests = []

    def close(self):
        self.server.shutdown()
        self.server.server_close()
