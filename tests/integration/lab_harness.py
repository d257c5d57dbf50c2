"""A real JupyterLab on 127.0.0.1 driven by Playwright through Debian's Chromium.

Used by the browser tests: :func:`jupyterlab` starts ``jupyter lab`` (as root with
``--allow-root``, a random token, ``--LabApp.expose_app_in_browser=True`` so the page's
``window.jupyterapp`` can run commands) in a temporary root directory and stops it after;
:func:`open_notebook` writes a notebook through the contents API and opens it in a page whose
requests to anything but 127.0.0.1 are refused and recorded (charts must render offline).
:class:`Kernel` talks to the notebook's kernel directly (its connection file), to check
kernel-side values while the page shows them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    runtime_dir: Path
    blocked: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
        return json.loads(text) if text else None


@contextlib.contextmanager
def jupyterlab(root: Path, env: dict[str, str] | None = None) -> Iterator[Lab]:
    """Start JupyterLab serving ``root`` on 127.0.0.1; stop it (and its kernels) after."""
    port = _free_port()
    token = secrets.token_hex(16)
    runtime = root / ".jupyter-runtime"
    runtime.mkdir(parents=True, exist_ok=True)
    environ = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), **(env or {})}
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.disable_check_xsrf=True",
    ]
    log = open(root / "jupyterlab.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=environ)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, proc, runtime)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {(root / 'jupyterlab.log').read_text()}")
            try:
                lab.api("GET", "/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("jupyter lab did not start in 90 s") from None
                time.sleep(0.3)
        yield lab
    finally:
        with contextlib.suppress(Exception):
            for k in lab.api("GET", "/api/kernels"):
                lab.api("DELETE", f"/api/kernels/{k['id']}")
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def write_notebook(lab: Lab, name: str, cells: list[str]) -> str:
    """A notebook of code ``cells`` saved in the lab's root; its path."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    lab.api(
        "PUT",
        f"/api/contents/{name}",
        {"type": "notebook", "content": json.loads(nbformat.writes(nb))},
    )
    # a session with its kernel already running: the page opens on it (no kernel dialog)
    lab.api(
        "POST",
        "/api/sessions",
        {"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}},
    )
    return name


def open_page(browser: Any, lab: Lab, path: str) -> Any:
    """A page with the notebook open in JupyterLab; only 127.0.0.1 is reachable."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")):
            r.continue_()
        else:
            lab.blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    # a workspace of its own: JupyterLab would otherwise reopen the notebooks of earlier pages
    workspace = path.replace("/", "-").replace(".", "-")
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{path}?reset&token={lab.token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    # notifications (JupyterLab's news prompt) would cover the screenshots
    page.add_style_tag(content=".Toastify { display: none !important; }")
    # the notebook's kernel is connected and idle (run-all before that runs nothing)
    page.wait_for_function(
        """() => {
            const w = window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session
                && w.sessionContext.session.kernel;
            return k && k.connectionStatus === 'connected' && k.status === 'idle';
        }""",
        timeout=90_000,
    )
    return page


def run_all(page: Any) -> None:
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")


class Kernel:
    """A notebook's kernel, reached through its connection file (kernel-side checks)."""

    def __init__(self, lab: Lab, notebook: str) -> None:
        from jupyter_client import BlockingKernelClient

        deadline = time.monotonic() + 60
        kernel_id = None
        while kernel_id is None:
            for session in lab.api("GET", "/api/sessions"):
                if session["path"] == notebook and session.get("kernel"):
                    kernel_id = session["kernel"]["id"]
            if kernel_id is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no kernel for {notebook}")
                time.sleep(0.2)
        kernels = [{"id": kernel_id}]
        path = lab.runtime_dir / f"kernel-{kernels[0]['id']}.json"
        self.client = BlockingKernelClient(connection_file=str(path))
        self.client.load_connection_file()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def eval(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the kernel's namespace."""
        code = f"import json as _j; print(_j.dumps({expression}, default=str))"
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR " + msg["content"]["evalue"])

        self.client.execute_interactive(code, output_hook=hook, timeout=60, store_history=False)
        text = "".join(out).strip()
        if text.startswith("ERROR"):
            raise RuntimeError(text)
        return json.loads(text)

    def close(self) -> None:
        self.client.stop_channels()
