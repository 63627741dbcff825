"""Screenshots of kedro-viz in a real Chromium (``make viz-screenshots``); no test needs this script.

Starts ``kedro viz run --no-browser`` on 127.0.0.1 and a free port (its own process group, stopped by
that group's id), waits for ``/api/main``, drives Debian's Chromium (``/usr/bin/chromium``) through
Playwright at 1600 x 1000 and writes:

* ``docs/kedro-viz-default-view.png``: the default view, every modular pipeline collapsed;
* ``docs/kedro-viz-sweeps-expanded.png``: the same with the ``sweeps`` box expanded (one box per sweep);
* ``docs/kedro-viz-sweep-expanded.png``: the same with one sweep in it (``--sweep``, ``width_sweep``) expanded;
* ``docs/kedro-viz-<pipeline>.png``: the registered pipeline ``--pipeline`` (``reporting``);
* ``docs/kedro-viz-report-preview.png``: the dataset panel of ``report_html`` (only where a report
  exists under ``data/08_reporting``).

It measures the default view, every sweep expanded (each on a fresh page) and every registered
pipeline, and prints two measurements for each:

* ``top-level elements``: the children of ``__root__`` in kedro-viz's API (``/api/main`` or
  ``/api/pipelines/<id>``), i.e. the boxes and datasets the collapsed view draws, and the number of
  ``g.pipeline-node`` elements the page actually drew;
* ``zoom``: the percentage kedro-viz itself shows in its zoom toolbar
  (``.pipeline-minimap-toolbar__scale``) once the opening zoom-to-fit has settled
  (100 % = the layout's own size; labels are about 2-3 px tall at 13 %, legible from 40 %).

Usage: ``python .ci/viz_screenshots.py [--env ENV] [--out docs] [--sweep width_sweep] [--pipeline reporting]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ntk_linearity.experiment.runs import SWEEPS_NAMESPACE as SWEEPS

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1600, "height": 1000}
STARTUP_TIMEOUT_S = 180
SETTLE_S = 3.0  # kedro-viz animates its zoom-to-fit; measure after it stops

# The zoom kedro-viz shows in its toolbar, and the number of nodes drawn on the page.
ZOOM_JS = """() => {
  const label = document.querySelector('.pipeline-minimap-toolbar__scale');
  return {label: label ? label.textContent.trim() : null,
          drawn: document.querySelectorAll('.pipeline-flowchart__nodes .pipeline-node').length};
}"""


def free_port() -> int:
    """A free port in 20000-45000 (kedro-viz refuses ports above the registered range)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 45000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-45000")


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def start_viz(env: str | None, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "kedro", "viz", "run", "--no-browser", "--host", "127.0.0.1",
               "--port", str(port)] + (["--env", env] if env else [])
    environment = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "JAX_PLATFORMS": "cpu"}
    return subprocess.Popen(command, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise SystemExit(f"kedro viz run exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            get_json(f"{base}/api/main")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            if time.monotonic() > deadline:
                raise SystemExit(f"kedro viz run did not answer in {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(1)


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def top_level(base: str, pipeline: str | None, expanded: tuple[str, ...] = ()) -> int:
    """Elements the view draws from kedro-viz's API: the root's children, each box of ``expanded`` (in
    order, outermost first) replaced by its own children."""
    main = get_json(f"{base}/api/pipelines/{pipeline}" if pipeline else f"{base}/api/main")
    tree = main["modular_pipelines"]
    root = {child["id"] for child in tree["__root__"]["children"]}
    for box in expanded:
        root = (root - {box}) | {child["id"] for child in tree[box]["children"]}
    return len(root)


def measure(page, name: str, api_count: int) -> None:
    """Print the view's counts and zoom once kedro-viz has drawn ``api_count`` nodes (or after
    ``STARTUP_TIMEOUT_S``) and its zoom-to-fit has settled."""
    page.wait_for_function(f"() => document.querySelectorAll('.pipeline-flowchart__nodes .pipeline-node')"
                           f".length === {api_count}", timeout=STARTUP_TIMEOUT_S * 1000)
    time.sleep(SETTLE_S)
    zoom = page.evaluate(ZOOM_JS)
    print(f"{name}: top-level elements {api_count} (API), {zoom['drawn']} drawn; "
          f"zoom {zoom['label']} (kedro-viz's zoom toolbar)")


def dismiss_tour(page) -> None:
    """Close kedro-viz's first-visit pop-ups, where they show (best effort): the "Workflow run status"
    walkthrough (``.feature-hints``, closed by its cross) and the "Kedro-Viz ... is here!" banner
    (its Dismiss button)."""
    try:
        hints = page.locator(".feature-hints")
        hints.wait_for(timeout=8000)
        hints.locator("[class*='close']").first.click(timeout=3000)
        page.wait_for_timeout(500)
    except Exception as error:  # noqa: BLE001 (a pop-up that is not there is fine)
        print(f"no walkthrough pop-up closed ({type(error).__name__})")
    dismiss_banner(page)


def dismiss_banner(page) -> None:
    """Close the "Kedro-Viz ... is here!" banner (its Dismiss button), where it shows (best effort: it
    may show late, so before each screenshot)."""
    try:
        page.get_by_role("button", name="Dismiss").click(timeout=2000)
        page.wait_for_timeout(300)
    except Exception as error:  # noqa: BLE001
        print(f"no banner dismissed ({type(error).__name__})")


def node(page, label: str):
    """The drawn node whose label is ``label`` (kedro-viz may prettify names)."""
    pretty = label.replace("_", " ").title()
    return page.locator(".pipeline-flowchart__nodes .pipeline-node").filter(
        has=page.locator(f"text:text-is('{label}'), text:text-is('{pretty}')")).first


def open_view(browser, url: str):
    """A fresh page (no state kept from another view: kedro-viz stores its state in the browser) on
    ``url``, drawn, without first-visit pop-ups."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector(".pipeline-flowchart__nodes .pipeline-node")
    dismiss_tour(page)
    return page


def shoot_sweeps(browser, base: str, out: Path, sweep: str) -> None:
    """The default view, the ``sweeps`` box expanded, then every sweep expanded in it (each on a fresh
    page); ``sweep`` expanded is photographed."""
    page = open_view(browser, f"{base}/")
    measure(page, "default view", top_level(base, None))
    page.screenshot(path=out / "kedro-viz-default-view.png")
    node(page, SWEEPS).click()
    measure(page, f"{SWEEPS} expanded", top_level(base, None, expanded=(SWEEPS,)))
    page.screenshot(path=out / "kedro-viz-sweeps-expanded.png")
    page.context.close()
    registered = {p["id"] for p in get_json(f"{base}/api/main")["pipelines"]}
    for name in sorted(registered - {"__default__", "data_generation", "reporting"}):
        page = open_view(browser, f"{base}/")
        node(page, SWEEPS).click()
        expanded = (SWEEPS, f"{SWEEPS}.{name}")
        measure(page, f"{SWEEPS} expanded", top_level(base, None, expanded=expanded[:1]))
        node(page, expanded[1]).click()  # kedro-viz labels a nested box with its full id
        measure(page, f"{name} expanded", top_level(base, None, expanded=expanded))
        if name == sweep:
            page.screenshot(path=out / "kedro-viz-sweep-expanded.png")
        page.context.close()


def shoot_pipelines(browser, base: str, out: Path, pipeline: str) -> None:
    """Every registered pipeline; ``pipeline`` is photographed. Then the preview of ``report_html``."""
    page = open_view(browser, f"{base}/")
    for registered in sorted(p["id"] for p in get_json(f"{base}/api/main")["pipelines"]):
        page.goto(f"{base}/?pid={registered}", wait_until="networkidle")
        measure(page, f"pipeline {registered}", top_level(base, registered))
        if registered == pipeline:
            dismiss_banner(page)
            page.screenshot(path=out / f"kedro-viz-{pipeline.replace('_', '-')}.png")

    page.goto(f"{base}/?pid=__default__", wait_until="networkidle")  # kedro-viz remembers the last pid
    page.wait_for_selector(".pipeline-flowchart__nodes .pipeline-node")
    report = node(page, "report_html")
    if not report.count():
        print("report_html is not drawn at the top level: no preview screenshot")
        return
    report.click()
    try:
        page.wait_for_selector(".pipeline-metadata__preview", timeout=15000)
    except Exception as error:  # noqa: BLE001 (no report under data/08_reporting: no preview)
        print(f"report_html shows no preview ({type(error).__name__}): no preview screenshot")
    else:
        page.wait_for_timeout(1000)
        page.screenshot(path=out / "kedro-viz-report-preview.png")


def shoot(base: str, out: Path, sweep: str, pipeline: str) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (only this script needs it)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        shoot_sweeps(browser, base, out, sweep)
        shoot_pipelines(browser, base, out, pipeline)
        browser.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="Kedro run environment (default: Kedro's)")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--sweep", default="width_sweep", help="the sweep to expand")
    parser.add_argument("--pipeline", default="reporting", help="the registered pipeline to photograph")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = Path("logs") / "viz-screenshots.log"
    log.parent.mkdir(exist_ok=True)
    process = start_viz(args.env, port, log)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base, process, log)
        shoot(base, args.out, args.sweep, args.pipeline)
    finally:
        stop(process)


if __name__ == "__main__":
    main()
