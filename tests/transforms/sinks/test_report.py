"""The HTML report of a built corpus, opened in a real headless Chromium.

Needs Debian's `chromium` (apt-get install -y chromium) and websocket-client; skips with a message
otherwise. The screenshot is saved beside the corpus (path printed; kept by pytest's tmp dirs) and,
when TUNESCRIBE_SCREENSHOTS names a folder, copied there.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from mtg_corpus import MARKUP

PAGE_FACTS = """(() => {
  const imgs = [...document.images], audios = [...document.querySelectorAll('audio')];
  return {
    images: imgs.length,
    charts: [...document.querySelectorAll('.charts svg')].map(s => {
      const box = s.getBoundingClientRect();
      return {label: s.getAttribute('aria-label'), width: box.width, height: box.height, bars: s.querySelectorAll('rect').length};
    }),
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    audios: audios.length,
    audio_states: audios.map(a => ({ready: a.readyState, error: a.error && a.error.code, duration: a.duration})),
    scripts: document.scripts.length,
    bold_in_captions: document.querySelectorAll('.caption b, .tag b').length,
    captions: [...document.querySelectorAll('.caption')].map(c => c.firstChild.textContent),
    tags: [...document.querySelectorAll('.tag')].map(t => t.textContent),
    alerted: window.__alerted || false,
    sections: [...document.querySelectorAll('h2')].map(h => h.id),
  };
})()"""


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("websocket", reason="websocket-client is not installed (pip install websocket-client)")
    from headless_chromium import Chromium, find_chromium

    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    with Chromium(binary) as chromium:
        # Any alert() a caption managed to smuggle in would set this (set before the page's own code).
        chromium.call("Page.addScriptToEvaluateOnNewDocument",
                      source="window.alert = () => { window.__alerted = true; };")
        yield chromium


@pytest.fixture(scope="module")
def page(browser, mtg_corpus):
    report = mtg_corpus.corpus / "report.html"
    browser.open(report.as_uri())
    browser.wait_for("[...document.querySelectorAll('audio')].every(a => a.readyState >= 1 || a.error)")
    facts = browser.evaluate(PAGE_FACTS)
    shot = mtg_corpus.root / "report.png"
    browser.screenshot(shot)
    print(f"report screenshot: {shot}")
    if os.environ.get("TUNESCRIBE_SCREENSHOTS"):
        shutil.copy(shot, os.path.join(os.environ["TUNESCRIBE_SCREENSHOTS"], "report.png"))
    return facts, shot


def test_report_opens_without_console_errors(browser, page):
    facts, _ = page
    assert browser.errors() == []
    assert facts["sections"] == ["overview", "splits", "stats", "tags", "gallery", "rejects", "dropped"]


def test_every_image_and_audio_element_loads(page, mtg_corpus):
    facts, _ = page
    # One spectrogram per gallery clip; the charts are inline SVG, not images.
    assert facts["images"] >= 12 and facts["broken"] == []
    # One player per gallery clip, each decoded far enough to know its length.
    assert facts["audios"] >= 12
    for state in facts["audio_states"]:
        assert state["error"] is None and state["ready"] >= 1 and state["duration"] > 0.5


def test_markup_in_captions_and_tags_shows_as_text(page, mtg_corpus):
    facts, _ = page
    assert MARKUP in facts["captions"]  # the human caption holding <script> is shown, verbatim
    assert any(MARKUP.lower() in t for t in facts["tags"])
    assert facts["scripts"] == 0 and facts["bold_in_captions"] == 0 and not facts["alerted"]
    source = (mtg_corpus.corpus / "report.html").read_text()
    assert "<script" not in source and html.escape(MARKUP, quote=True) in source


def test_screenshot_is_saved(page):
    _, shot = page
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000


def test_charts_are_inline_svg_drawn_with_bars(page, mtg_corpus):
    facts, _ = page
    labels = [c["label"] for c in facts["charts"]]
    assert labels[:2] == ["Clips per split", "Hours per split"] and "Top 30 tags" in labels
    assert any(label.startswith("histograms of duration_s, peak_dbfs") for label in labels)
    assert "Rejects per stage/reason" in labels and "Dropped captions per rule" in labels
    for chart in facts["charts"]:
        assert chart["width"] > 300 and chart["height"] > 80 and chart["bars"] >= 1, chart
    # Each chart is well-formed XML on its own (the page's HTML parser would forgive what XML does not).
    source = (mtg_corpus.corpus / "report.html").read_text()
    svgs = re.findall(r"<svg.*?</svg>", source)
    assert len(svgs) == len(facts["charts"])
    for svg in svgs:
        assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"
