"""Headless Chromium (the Debian package) driven over the DevTools protocol with websocket-client: no
browser download, no driver. `Browser.start(profile_dir)` launches it on a free DevTools port; `open(url)`,
`evaluate(js)`, `wait_for(js, ...)`, `screenshot(path)`; `errors` collects what a person would see in the
browser's console as errors (console.error, uncaught exceptions, failed loads)."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import websocket

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Headless, as root, and quiet on a machine whose network is closed (background networking would try Google's hosts)
HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
FLAGS = (
    *HEADLESS_FLAGS,
    "--remote-debugging-port=0",  # Chromium picks a free port and writes it to DevToolsActivePort
)
START_TIMEOUT_SECONDS = 30
CALL_TIMEOUT_SECONDS = 60


def find_chromium() -> str | None:
    return next((path for path in CANDIDATES if Path(path).exists()), None) or shutil.which("chromium")


@dataclass
class Browser:
    process: subprocess.Popen
    socket: websocket.WebSocket
    errors: list[str] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def start(cls, executable: str, profile_dir: Path, width: int = 1600, height: int = 1200) -> Browser:
        profile_dir.mkdir(parents=True, exist_ok=True)
        command = [executable, *FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={width},{height}"]
        process = subprocess.Popen([*command, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"chromium did not open its DevTools port (exit {process.poll()})")
            time.sleep(0.2)
        port = int(port_file.read_text().splitlines()[0])
        pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        target = next(page for page in pages if page["type"] == "page")
        # No Origin header: Chromium refuses DevTools connections from web origins it was not told about.
        socket = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=CALL_TIMEOUT_SECONDS, suppress_origin=True
        )
        browser = cls(process, socket)
        for domain in ("Page", "Runtime", "Log"):
            browser.call(f"{domain}.enable")
        return browser

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"{params['entry'].get('url', '')}: {params['entry']['text']}")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", 30, f"{url} to load")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        """Poll `expression` until it is truthy; fail with `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        # a DOM node comes back as {} (falsy here): a found node counts as true
        probe = f"(value => value instanceof Node ? true : value)(({expression}))"
        while not (value := self.evaluate(probe)):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.5)
        return value

    def screenshot(self, path: Path, full_page: bool = True) -> None:
        """The whole page, or only what the window shows."""
        if not full_page:
            path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
            return
        width, height = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        self.call("Emulation.clearDeviceMetricsOverride")

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
