import pytest

from cfn_template import ROOT, load
from harness.local import AWS_ENV, VENV_BIN, Process, free_port, wait_until


@pytest.fixture(scope="session")
def template():
    return load()


@pytest.fixture(scope="session")
def moto_url():
    """moto server on 127.0.0.1 for the EventBridge tests, stopped afterwards."""
    import os
    import urllib.request

    port = free_port()
    log_dir = ROOT / ".local" / "template-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    server = Process("moto", [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                     log_dir, env={**os.environ, **AWS_ENV})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: urllib.request.urlopen(f"{url}/moto-api/", timeout=2).status == 200, "moto server")
        yield url
    finally:
        server.stop()
