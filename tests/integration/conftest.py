"""Fixtures of the integration tests: a real S3-compatible server on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

CREDENTIALS = {"key": "testing", "secret": "testing"}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of moto's threaded S3 server, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    """A boto3 S3 client of that server (region given to boto3 only, never to s3fs)."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=CREDENTIALS["key"],
        aws_secret_access_key=CREDENTIALS["secret"],
        region_name="us-east-1",
    )


@pytest.fixture(scope="session")
def s3_bucket(s3_client: Any) -> Callable[[str], str]:
    """Create a bucket (once) and return its name."""
    made: set[str] = set()

    def make(name: str) -> str:
        if name not in made:
            s3_client.create_bucket(Bucket=name)
            made.add(name)
        return name

    return make


@pytest.fixture(scope="session")
def s3_options(s3_endpoint: str) -> dict[str, str]:
    """s3fs-style storage options for the server."""
    return {"endpoint_url": s3_endpoint, **CREDENTIALS}
