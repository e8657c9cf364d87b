"""Which addresses the crawler may reach for a source added on the web.

Sits under ``search.crawl``, beside politeness: the fetcher asks it before
every request (each redirect hop and retry) made for a source an
administrator entered on ``/sources``, and again checks the address it
actually connected to, so neither a redirect nor a name that resolves
differently the second time (DNS rebinding) turns Newsdesk into a way to
read the server's own network (server-side request forgery). Sources added
from the command line may be anywhere, loopback included: whoever runs the
command already has the machine.

An address is public when Python's ``ipaddress`` calls it global: not
private (RFC 1918, unique-local), loopback, link-local, shared (CGNAT),
multicast, reserved or unspecified; IPv4-mapped IPv6 addresses are judged
by their IPv4 address.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from search.errors import FetchError


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP address, without port) is on the public internet."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def require_public(url: str) -> None:
    """``FetchError`` unless every address ``url``'s host resolves to is public."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as e:
        raise FetchError(f"cannot resolve {host or url!r}: {e}") from None
    private = sorted({str(info[4][0]) for info in found if not is_public(str(info[4][0]))})
    if private:
        raise FetchError(f"{host} is a private or local address ({', '.join(private)}): "
                         "refused for a source added on the web")


def require_public_peer(address: object) -> None:
    """``FetchError`` unless the address a connection reached (``(ip, port, …)``) is public."""
    ip = address[0] if isinstance(address, tuple) and address else address
    if not isinstance(ip, str) or not is_public(ip):
        raise FetchError(f"connected to a private or local address ({ip}): refused for a source added on the web")
