"""Webhook deliveries over HTTP with httpx, signed as Standard Webhooks specifies.

The destination is checked where it matters, at connection time: the host is resolved here, every address
it resolves to must be public (unless private hosts are allowed), and the request goes to the checked
address itself, the name travelling in the ``Host`` header and in TLS (SNI and certificate checks). A name
that resolves to a public address when checked and to a private one when connected (DNS rebinding) is
therefore never followed. Redirects are not followed either: a 3xx is a failed attempt.

Each delivery opens a client of its own: jobs may run in different event loops (a worker's, the API's
embedded queue, a test's thread), and a pool bound to one loop cannot serve another. Deliveries are few
and run in the bulk queue; a TLS handshake each is an acceptable price.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime

import httpx
from standardwebhooks import Webhook

from clinic_core.webhooks.model import is_public_address
from clinic_core.webhooks.ports import WebhookRequest, WebhookResponse

USER_AGENT = "Clinic-Webhooks/1.0 (+https://www.standardwebhooks.com)"
TIMEOUT_SECONDS = 10.0


def signature_headers(secret: str, delivery_id: str, sent_at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(delivery_id, sent_at, body),
    }


class DestinationRefused(Exception):
    """The URL's host cannot be resolved, or resolves to an address deliveries may not reach."""


class HttpxWebhookSender:
    def __init__(self, *, allow_private_hosts: bool = False, timeout: float = TIMEOUT_SECONDS) -> None:
        self._allow_private = allow_private_hosts
        self._timeout = timeout

    async def send(self, request: WebhookRequest) -> WebhookResponse:
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signature_headers(request.secret, str(request.delivery_id), request.sent_at, request.body),
        }
        try:
            url = httpx.URL(request.url)
            host = url.raw_host.decode("ascii")  # IDNA: what DNS, the Host header and SNI carry
            # One deadline for the whole exchange: httpx's timeout is per read, and an endpoint that
            # trickles its answer must not hold a worker (or, embedded on SQLite, the write lock).
            async with asyncio.timeout(self._timeout):
                address = await self._address_of(url, host)
                async with (
                    httpx.AsyncClient(
                        timeout=self._timeout, follow_redirects=False, trust_env=False
                    ) as client,
                    client.stream(
                        "POST",
                        url.copy_with(host=address),
                        content=request.body.encode(),
                        headers={**headers, "host": _host_header(url, host)},
                        extensions={"sni_hostname": host},
                    ) as response,
                ):
                    status = response.status_code
        except DestinationRefused as refused:
            return WebhookResponse(None, str(refused))
        except (TimeoutError, httpx.TimeoutException):
            return WebhookResponse(None, f"no response within {self._timeout:g} seconds")
        except httpx.HTTPError as error:
            return WebhookResponse(
                None, f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            )
        except (
            httpx.InvalidURL,
            ValueError,
            UnicodeError,
        ) as error:  # a URL httpx or IDNA refuses: a failed attempt
            return WebhookResponse(None, f"the URL cannot be used: {type(error).__name__}")
        if 200 <= status < 300:
            return WebhookResponse(status)
        return WebhookResponse(status, f"the endpoint answered HTTP {status}")

    async def _address_of(self, url: httpx.URL, host: str) -> str:
        """The address to connect to: the first one the host resolves to, once every one was checked."""
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise DestinationRefused(f"the host {host} does not resolve") from error
        addresses = [str(info[4][0]) for info in found]
        if not addresses:
            raise DestinationRefused(f"the host {host} does not resolve")
        if not self._allow_private and not all(is_public_address(a) for a in addresses):
            raise DestinationRefused(f"the host {host} resolves to a private address")
        return addresses[0]


def _host_header(url: httpx.URL, host: str) -> str:
    default = 443 if url.scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    return shown if url.port in (None, default) else f"{shown}:{url.port}"
