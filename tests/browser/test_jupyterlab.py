"""A real-browser test of a lesson: JupyterLab on localhost, driven by Playwright in headless Chromium.

What it does (see docs/browser-test.md):

1. copies the lesson's folder (``notebooks/``) to a temporary directory, so the run never
   touches the committed notebooks, links the checkout's ``data/`` and ``benchmarks/`` beside
   it (the lessons find the shipped checkpoints there), and starts ``jupyter lab`` there on 127.0.0.1 (a free
   port, a random token, temporary Jupyter config / data / runtime / settings dirs);
2. opens the lesson in the system Chromium (``/usr/bin/chromium``), waits for the kernel,
   clears the committed outputs (so no saved widget can pass for a live one) and runs
   *Run → Run All Cells* from the menu bar, like a learner would;
3. waits until every code cell has run and the kernel is idle, and fails on any error output;
4. finds the widget drop-down labelled ``colour``, records the output that the widget shows
   (the GIF and its caption), picks another value and asserts that the output changed:
   a new GIF, and a caption that names the new value;
5. saves a screenshot (and the server log) under ``$MINIVID_ARTIFACTS`` or
   ``tests/browser/artifacts/``, and always shuts the server down.

Settings, all optional environment variables:

- ``MINIVID_BROWSER_NOTEBOOK``: the lesson, relative to the repository root (default
  ``notebooks/00_welcome.ipynb``);
- ``MINIVID_BROWSER_DROPDOWN``: the description (label) of the drop-down to change
  (default ``colour``); its new value must appear in the widget's output;
- ``MINIVID_CHROMIUM``: the Chromium binary (default ``/usr/bin/chromium``);
- ``MINIVID_ARTIFACTS``: where the screenshot and logs go;
- ``MINIVID_BROWSER_TIMEOUT``: seconds allowed for "Run All" (default 300);
- ``MINIVID_REQUIRE_BROWSER=1``: a missing dependency (playwright, Chromium, jupyterlab)
  fails the test instead of skipping it. ``tools/browser_test.sh`` sets it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = Path(os.environ.get("MINIVID_BROWSER_NOTEBOOK", "notebooks/00_welcome.ipynb"))
DROPDOWN = os.environ.get("MINIVID_BROWSER_DROPDOWN", "colour")
CHROMIUM = os.environ.get("MINIVID_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("MINIVID_ARTIFACTS") or Path(__file__).parent / "artifacts").resolve()
RUN_ALL_TIMEOUT = float(os.environ.get("MINIVID_BROWSER_TIMEOUT", "300"))
REQUIRE = os.environ.get("MINIVID_REQUIRE_BROWSER", "") == "1"

# Playwright adds --headless (headless=True) and --user-data-dir (launch_persistent_context,
# a fresh temporary folder) itself. The rest: Chromium runs as root in containers (needs
# --no-sandbox), and on a closed network the background services below can hang it.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # small /dev/shm in Docker-style CI containers
]
VIEWPORT = {"width": 1400, "height": 1000}


def _missing_dependencies() -> list[str]:
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the Python package 'playwright' (pip install playwright)")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install -y chromium, or set MINIVID_CHROMIUM)")
    if importlib.util.find_spec("jupyterlab") is None:
        missing.append("jupyterlab (pip install -e '.[dev]')")
    return missing


_MISSING = _missing_dependencies()
if _MISSING and not REQUIRE:
    pytest.skip(
        "browser test needs " + "; ".join(_MISSING) + ". Run tools/browser_test.sh to install them and run it.",
        allow_module_level=True,
    )


def _log(message: str) -> None:
    print(f"[browser-test] {message}", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


class LabServer:
    """A `jupyter lab` process on 127.0.0.1, serving a temporary copy of the lessons."""

    def __init__(self, root: Path, notebook: Path, log_path: Path):
        self.root = root
        self.notebook_name = notebook.name
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path

        self.notebook_dir = root / "notebooks"
        shutil.copytree(
            notebook.parent,
            self.notebook_dir,
            ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints", "__pycache__"),
        )
        # Lessons find the shipped checkpoints (data/) and benchmark results above their folder, as in a
        # checkout: link them (read-only use) beside the copy instead of copying megabytes.
        for shared in ("data", "benchmarks"):
            (root / shared).symlink_to(REPO / shared, target_is_directory=True)
        settings = root / "lab-settings"
        # No windowing: every cell stays in the DOM. No news / update pop-ups.
        _write_json(settings / "@jupyterlab/notebook-extension/tracker.jupyterlab-settings", {"windowingMode": "none"})
        _write_json(
            settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings",
            {"fetchNews": "false", "checkForUpdates": False},
        )
        self.env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(root / "jupyter-config"),
            JUPYTER_DATA_DIR=str(root / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(root / "jupyter-runtime"),
            IPYTHONDIR=str(root / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
        )
        self.cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.notebook_dir}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, to read the notebook's state
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={root / 'lab-workspaces'}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
            self.cmd.append("--allow-root")
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    def start(self, timeout: float = 120) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=self.notebook_dir,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the kernels go down with it
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with self._api("GET", "/api/status", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"jupyter lab did not answer on {self.base_url} within {timeout:.0f} s:\n{self.log_tail()}")

    def _api(self, method: str, path: str, timeout: float):
        request = urllib.request.Request(
            self.base_url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        return urllib.request.urlopen(request, timeout=timeout)

    def log_tail(self, n: int = 40) -> str:
        if self._log_file:
            self._log_file.flush()
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        """Shut down politely (kernels included), then SIGTERM, then SIGKILL the process group."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self._api("POST", "/api/shutdown", timeout=5).close()
                proc.wait(timeout=15)
            except Exception:
                pass
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, 0)  # anything (kernels) left in the group?
            except ProcessLookupError:
                break
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                pass
        if self._log_file:
            self._log_file.close()
        self.proc = None

    def notebook_url(self) -> str:
        return f"{self.base_url}/lab/tree/{self.notebook_name}?token={self.token}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if _MISSING:  # only reached with MINIVID_REQUIRE_BROWSER=1
        pytest.fail("MINIVID_REQUIRE_BROWSER=1 but the browser test needs " + "; ".join(_MISSING), pytrace=False)
    notebook = NOTEBOOK if NOTEBOOK.is_absolute() else REPO / NOTEBOOK
    assert notebook.is_file(), f"MINIVID_BROWSER_NOTEBOOK={NOTEBOOK}: no such notebook"
    server = LabServer(tmp_path_factory.mktemp("jupyterlab"), notebook, ARTIFACTS / "jupyterlab-server.log")
    started = time.monotonic()
    try:
        server.start()
        _log(f"jupyter lab ready on {server.base_url} in {time.monotonic() - started:.1f} s")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page(lab, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            page.page_errors = []
            page.on("pageerror", lambda err: page.page_errors.append(str(err)))
            yield page
        finally:
            context.close()


# The state of the current notebook, read from JupyterLab's own model (window.jupyterapp).
NOTEBOOK_STATE_JS = """
() => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return {phase: 'no app'};
  const panel = app.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext || !panel.context) return {phase: 'no notebook'};
  const session = panel.sessionContext.session;
  const kernel = session && session.kernel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  const errors = [];
  cells.forEach((cell, i) => {
    for (const out of cell.model.outputs.toJSON()) {
      if (out.output_type === 'error') errors.push(`code cell ${i + 1}: ${out.ename}: ${out.evalue}`);
    }
  });
  const prompts = Array.from(panel.node.querySelectorAll('.jp-InputPrompt'));
  return {
    phase: 'notebook',
    path: panel.context.path,
    ready: panel.context.isReady,
    kernel: kernel ? kernel.status : null,
    code_cells: cells.length,
    executed: cells.filter(c => c.model.executionCount !== null).length,
    running: prompts.filter(p => p.textContent.includes('*')).length,
    errors: errors,
  };
}
"""


def _wait_for(page, predicate, timeout: float, what: str) -> dict:
    """Poll the notebook state until predicate(state) holds; fail with the last state."""
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        state = page.evaluate(NOTEBOOK_STATE_JS)
        if state.get("errors"):
            pytest.fail(f"error output while waiting for {what}: " + "; ".join(state["errors"]), pytrace=False)
        if predicate(state):
            return state
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last state: {state}", pytrace=False)


def _screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def test_run_all_then_change_a_widget(lab, page):
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)  # widget views render a moment after the kernel's messages
    stem = Path(lab.notebook_name).stem
    timings = {}
    t0 = time.monotonic()
    try:
        # --- open the notebook and wait for its kernel
        page.goto(lab.notebook_url())
        _wait_for(
            page,
            lambda s: s.get("path") == lab.notebook_name and s["ready"] and s["kernel"] == "idle",
            120,
            f"{lab.notebook_name} to open with an idle kernel",
        )
        timings["open notebook + kernel idle"] = time.monotonic() - t0

        # --- clear the committed outputs: whatever shows up next comes from this run
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        _wait_for(page, lambda s: s["executed"] == 0, 30, "the outputs to clear")
        expect(page.locator(".jp-Notebook .jp-OutputArea-output")).to_have_count(0)

        # --- Run → Run All Cells, from the menu bar
        t1 = time.monotonic()
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})  # focus the notebook
        page.locator("#jp-menu-panel .lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        run_all = page.locator('#jp-mainmenu-run .lm-Menu-item[data-command="runmenu:run-all"]')
        expect(run_all).to_have_text(re.compile(r"^Run All Cells"))
        run_all.click()
        state = _wait_for(
            page,
            lambda s: s["code_cells"] > 0 and s["executed"] == s["code_cells"] and s["running"] == 0
            and s["kernel"] == "idle",
            RUN_ALL_TIMEOUT,
            "Run All Cells to finish",
        )
        timings["run all cells"] = time.monotonic() - t1
        _log(f"ran {state['code_cells']} code cells in {timings['run all cells']:.1f} s")

        # --- the live widget: the drop-down labelled DROPDOWN and the Output widget beside it
        label = re.compile(rf"^\s*{re.escape(DROPDOWN)}\s*$")
        labelled = page.locator(".widget-dropdown").filter(has=page.locator(".widget-label", has_text=label))
        # the cell output that holds the whole widget (an `interactive_output` layout)
        widget = page.locator(".jp-Notebook .jp-OutputArea-output").filter(has=labelled)
        expect(widget, f"one cell output with a drop-down labelled {DROPDOWN!r}").to_have_count(1)
        dropdown = widget.locator(".widget-dropdown").filter(has=page.locator(".widget-label", has_text=label))
        expect(dropdown).to_have_count(1)
        select = dropdown.locator("select")
        output = widget.locator(".widget-output")
        expect(output, "an Output widget next to the drop-down").to_have_count(1)
        expect(output.locator(".jp-OutputArea-output").first).to_be_visible()
        widget.scroll_into_view_if_needed()

        old_value = select.input_value()
        old_html = output.inner_html()
        old_srcs = output.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
        old_captions = output.locator("figcaption").all_inner_texts()
        options = select.locator("option").evaluate_all("opts => opts.map(o => o.value)")
        new_value = next((o for o in options if o != old_value), None)
        assert new_value is not None, f"the {DROPDOWN!r} drop-down has a single option: {options}"
        _log(f"{DROPDOWN}: {old_value!r} -> {new_value!r}")

        # --- change it, and wait for the kernel to re-render the output
        t2 = time.monotonic()
        select.select_option(new_value)
        expect(output, "the widget's output names the new value").to_contain_text(new_value, timeout=60_000)
        deadline = time.monotonic() + 30
        while output.inner_html() == old_html and time.monotonic() < deadline:
            time.sleep(0.2)
        timings["widget change -> new output"] = time.monotonic() - t2
        new_html = output.inner_html()
        new_srcs = output.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")
        assert new_html != old_html, "the widget's output did not change"
        if old_srcs:  # lesson 01: the GIF (a data: URL) must be a new one, and Chromium must decode it
            assert new_srcs and new_srcs != old_srcs, "the widget's output still shows the same image"
            decoded = output.locator("img").evaluate_all(
                "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth > 0, () => false)))"
            )
            assert all(decoded), f"the browser could not decode the new image(s): {decoded}"
        assert new_value in output.inner_text()
        if old_captions:  # lesson 01: the caption under the GIF names the new colour
            new_captions = output.locator("figcaption").all_inner_texts()
            assert new_captions != old_captions and any(new_value in c for c in new_captions), (
                f"captions {old_captions} -> {new_captions}: none names {new_value!r}"
            )
            _log(f"caption: {old_captions} -> {new_captions}")
        assert page.evaluate(NOTEBOOK_STATE_JS)["errors"] == []

        # --- the artefact
        widget.scroll_into_view_if_needed()
        page.wait_for_timeout(500)  # let the new GIF paint
        shot = _screenshot(page, f"jupyterlab-{stem}.png")
        timings["total (browser part)"] = time.monotonic() - t0
        _log(f"screenshot: {shot}")
        _log("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    except BaseException:
        try:
            shot = _screenshot(page, f"jupyterlab-{stem}-failure.png")
            _log(f"failure screenshot: {shot}; server log: {lab.log_path}")
        except Exception as err:  # the page itself may be gone
            _log(f"no failure screenshot: {err}")
        if getattr(page, "page_errors", None):
            _log("page errors: " + " | ".join(page.page_errors[:10]))
        raise
