"""Checks the local servers (`serve`, `app`, `agent serve`) share before they bind: loopback hosts, free ports."""

from __future__ import annotations

import errno
import ipaddress
import socket


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` resolves to is a loopback one (127.0.0.0/8, ::1); False if it does not resolve."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now (in use, not an address of this machine, no permission), or None.

    SO_REUSEADDR as uvicorn and circus bind, so a port in TIME_WAIT is not reported as taken.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use; pass another --port."
            return f"cannot bind {host}:{port} ({exc.strerror or exc}); pass another --host or --port."
        except (socket.gaierror, UnicodeError) as exc:
            return f"cannot bind {host}:{port} ({exc}); pass another --host."
    return None


def url_host(host: str) -> str:
    """``host`` as it goes into a URL (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
