"""A loopback nginx that answers every request with a tiny 200, so it is never the bottleneck."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 16384; multi_accept on; }}
http {{
    access_log off;
    keepalive_timeout 0;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=16384 reuseport;
        location / {{ return 200 "ok\\n"; }}
        location /slow {{ return 200 "ok\\n"; }}
    }}
}}
"""


def nginx_binary() -> str:
    """Return the path of nginx, installing Debian's nginx-light when it is missing."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise RuntimeError("nginx is not installed and apt-get is not available")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "nginx-light"],
        check=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    return "/usr/sbin/nginx"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def nginx_target() -> Iterator[str]:
    """Yield the base URL of a private nginx on loopback; stop it afterwards."""
    binary = nginx_binary()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bu-bench-nginx-") as root:
        conf = Path(root) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=root, port=port))
        proc = subprocess.Popen([binary, "-c", str(conf), "-p", root])
        try:
            wait_for_port(port)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not start on port {port}")
