"""A real nginx in front of a real ``chatter serve``, all on loopback, for the proxy tests.

``nginx_proxy`` writes a config into the test's temporary directory, starts
Debian's nginx on a free 127.0.0.1 port (never the system service or its
files) and stops it at exit.  The configuration is the one docs/DEPLOY.md
recommends.  Clients reach it from distinct loopback addresses
(127.0.0.2, 127.0.0.3, ...: Linux routes all of 127.0.0.0/8 to lo), so each
really is another address, with nothing forged.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
SECRET = "proxy-tests-secret-0123456789-abcdefghijklmnopqrstuv"  # noqa: S105 - a test-only key
METRICS_TOKEN = "metrics-token-for-the-proxy-tests"  # noqa: S105

# The server block docs/DEPLOY.md shows, with the test's ports and paths filled in.
_SITE = """
    location / {{
        proxy_pass http://127.0.0.1:{upstream};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_read_timeout 75s;
    }}
"""


def need_nginx() -> str:
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/install-system-deps.sh installs Debian's nginx)")
    return NGINX


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(tmp: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (needed for the TLS proxy test)")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(  # noqa: S603 - fixed arguments
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


@dataclass
class Proxy:
    url: str
    port: int
    cert: Path | None

    def client(self, source: str = "127.0.0.1", **kw: object) -> httpx.Client:
        """An httpx client whose connections come from the loopback address ``source``."""
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(self.cert)) if self.cert else True
        transport = httpx.HTTPTransport(local_address=source, verify=verify)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30, **kw)  # type: ignore[arg-type]


@contextmanager
def nginx_proxy(tmp: Path, upstream_url: str, *, tls: bool = False) -> Iterator[Proxy]:
    binary = need_nginx()
    upstream = int(upstream_url.rsplit(":", 1)[1].strip("/"))
    port = free_port()
    root = tmp / "nginx"
    for sub in ("", "body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / sub).mkdir(exist_ok=True)
    cert = key = None
    listen = f"listen 127.0.0.1:{port};"
    if tls:
        cert, key = self_signed(root)
        listen = f"listen 127.0.0.1:{port} ssl;\n    ssl_certificate {cert};\n    ssl_certificate_key {key};"
    user = "user root;" if os.geteuid() == 0 else ""  # workers must reach the test's private tmp dir
    conf = root / "nginx.conf"
    conf.write_text(f"""
{user}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
    {listen}
{_SITE.format(upstream=upstream)}
  }}
}}
""")
    proc = subprocess.Popen([binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],  # noqa: S603
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    scheme = "https" if tls else "http"
    proxy = Proxy(f"{scheme}://127.0.0.1:{port}", port, cert)
    try:
        _wait_up(proxy, proc)
        yield proxy
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful stop
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_up(proxy: Proxy, proc: subprocess.Popen[str]) -> None:
    """Bounded poll of /healthz through the proxy (detects start-up; not used to synchronise anything else)."""
    with proxy.client() as c:
        for _ in range(200):
            if proc.poll() is not None:
                raise RuntimeError(f"nginx exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
            try:
                if c.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError("nginx did not come up")
