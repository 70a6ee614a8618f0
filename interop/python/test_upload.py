"""HTTP File Upload (XEP-0363): slixmpp's xep_0363 finds the service, asks for a slot and PUTs
the file over our HTTP listener; curl PUTs to a slot URL and fetches ranges of the file."""

from __future__ import annotations

import asyncio
import io
import subprocess
import urllib.request
from email.message import Message

import pytest

from conftest import Server, connected, within

pytestmark = pytest.mark.timeout(40)


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """GET `url`; the response headers are looked up regardless of case."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def test_slixmpp_uploads_and_the_file_downloads(server: Server) -> None:
    data = ("Hello from slixmpp xep_0363 — " * 2000).encode()

    async def upload() -> str:
        async with connected(server, "alice", "upload", plugins=("xep_0030", "xep_0363")) as alice:
            url = await within(
                alice.plugin["xep_0363"].upload_file(
                    "greeting.txt", input_file=io.BytesIO(data), content_type="text/plain"
                ),
                15,
                "slixmpp to upload a file",
            )
            assert alice.plugin["xep_0363"].upload_service == f"upload.{server.domain}"
            assert alice.plugin["xep_0363"].max_file_size == 100 * 1024 * 1024
            return url

    url = asyncio.run(upload())
    assert url.startswith(f"http://{server.host}:{server.http_port}/upload/"), url
    assert url.endswith("/greeting.txt"), url
    status, headers, body = fetch(url)
    assert status == 200
    assert body == data
    assert headers["Content-Type"] == "text/plain"
    assert headers["Content-Length"] == str(len(data))
    assert headers["Content-Disposition"].startswith("attachment;")


def test_curl_puts_to_a_slot_and_gets_ranges(server: Server, tmp_path) -> None:
    photo = bytes(range(256)) * 40
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo)

    async def request_slot():
        async with connected(server, "bob", "upload", plugins=("xep_0030", "xep_0363")) as bob:
            return await within(
                bob.plugin["xep_0363"].request_slot(
                    f"upload.{server.domain}", "photo.jpg", len(photo), "image/jpeg"
                ),
                10,
                "an upload slot",
            )

    slot_iq = asyncio.run(request_slot())
    put_url = slot_iq["http_upload_slot"]["put"]["url"]
    get_url = slot_iq["http_upload_slot"]["get"]["url"]

    def curl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["curl", "--silent", "--show-error", "--max-time", "10", *args],
            capture_output=True,
            text=True,
            check=True,
        )

    put = curl(
        "--upload-file", str(path), "--header", "Content-Type: image/jpeg",
        "--write-out", "%{http_code}", "--output", "/dev/null", put_url,
    )
    assert put.stdout == "201", put.stderr
    again = curl(
        "--upload-file", str(path), "--header", "Content-Type: image/jpeg",
        "--write-out", "%{http_code}", "--output", "/dev/null", put_url,
    )
    assert again.stdout == "409"

    head = curl("--head", get_url)
    assert "content-disposition: inline;" in head.stdout.lower(), head.stdout
    assert "accept-ranges: bytes" in head.stdout.lower(), head.stdout

    ranged = subprocess.run(
        ["curl", "--silent", "--max-time", "10", "--range", "100-199", get_url],
        capture_output=True,
        check=True,
    )
    assert ranged.stdout == photo[100:200]
    status, headers, body = fetch(get_url, {"Range": "bytes=-16"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes {len(photo) - 16}-{len(photo) - 1}/{len(photo)}"
    assert body == photo[-16:]
