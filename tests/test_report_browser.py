"""The demo report in headless Chromium: every figure is displayed, and a full-page screenshot shows them.

Needs Debian's ``chromium`` and ``chromium-driver`` packages and the ``selenium``
package (``dev`` extra). Skipped when Chromium is absent, unless the environment
variable ``OSLTOOLS_REQUIRE_BROWSER`` is set (CI sets it): then a missing
browser is a failure. ``OSLTOOLS_SCREENSHOT_DIR`` keeps the screenshot there.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from osltools.report import build_report, demo_inputs

REQUIRED = bool(os.environ.get("OSLTOOLS_REQUIRE_BROWSER"))
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                                 else None)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")

IMAGE_STATE = """
return Array.from(document.images).map(function (img) {
  var box = img.getBoundingClientRect(), style = window.getComputedStyle(img);
  return {id: img.closest('figure') ? img.closest('figure').id : '', complete: img.complete,
          naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
          x: box.left + window.scrollX, y: box.top + window.scrollY, width: box.width, height: box.height,
          visible: style.visibility !== 'hidden' && style.display !== 'none' && parseFloat(style.opacity) > 0};
});
"""


def _require_browser():
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        message = f"headless browser check needs {', '.join(missing)} (Debian: apt-get install chromium chromium-driver)"
        if REQUIRED:
            pytest.fail(f"OSLTOOLS_REQUIRE_BROWSER is set but {message}")
        pytest.skip(message)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    _require_browser()
    panel, config, demo = demo_inputs(seed=0)
    out = tmp_path_factory.mktemp("browser") / "demo"
    build_report(out, panel=panel, config=config.override(bootstrap=10), demo=demo, quiet=True)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,1000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _full_page_png(driver) -> bytes:
    import base64

    width = driver.execute_script("return document.documentElement.scrollWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
    })
    return base64.b64decode(shot["data"])


def test_every_figure_is_displayed(demo_report, browser, tmp_path):
    browser.get((demo_report / "report.html").resolve().as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert "osltools demo report" in browser.title
    images = browser.execute_script(IMAGE_STATE)
    figures = sorted((demo_report / "figures").glob("*.png"))
    assert len(images) == len(figures) >= 10
    for img in images:
        assert img["complete"] and img["naturalWidth"] > 0 and img["naturalHeight"] > 0, img
        assert img["visible"] and img["width"] > 100 and img["height"] > 100, img

    png = _full_page_png(browser)
    target = Path(os.environ.get("OSLTOOLS_SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    (target / "demo_report.png").write_bytes(png)
    pixels = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    assert pixels.shape[0] >= max(img["y"] + img["height"] for img in images) - 2
    assert pixels.std() > 0.05 and (pixels < 0.9).any(axis=-1).mean() > 0.02  # not a blank page
    for img in images:  # every figure's area of the screenshot has a drawing in it
        top, left = int(img["y"]), int(img["x"])
        area = pixels[top:top + int(img["height"]), left:left + int(img["width"])]
        assert area.size and area.std() > 0.02 and (area < 0.5).any(axis=-1).mean() > 0.001, img["id"]


def test_no_figure_is_broken_when_a_file_is_missing(demo_report, browser):
    """The HTML does not depend on figures/: it is viewable on its own (moved, mailed, offline)."""
    alone = demo_report.parent / "alone"
    alone.mkdir(exist_ok=True)
    shutil.copy(demo_report / "report.html", alone / "report.html")
    browser.get((alone / "report.html").resolve().as_uri())
    images = browser.execute_script(IMAGE_STATE)
    assert images and all(img["complete"] and img["naturalWidth"] > 0 for img in images)
    assert np.all([img["visible"] for img in images])
