"""The report's pictures: SVG bar charts and histograms, parsed back as XML; PNG spectrograms."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from tunescribe.transforms.sinks import figures

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iterfind(".//s:text", NS)]


def test_bars_are_proportional_in_order_with_labels_and_axis():
    counts = {"train": 226, "valid": 32, "test": 56}
    root = parse(figures.bars(counts, "Clips per split", "clips"))
    rects = root.findall("s:rect", NS)
    widths = [float(r.get("width")) for r in rects]
    assert np.allclose(np.array(widths) / widths[0], np.array([226, 32, 56]) / 226, atol=1e-3)
    assert [float(r.get("y")) for r in rects] == sorted(float(r.get("y")) for r in rects)  # first on top
    assert [r.find("s:title", NS).text for r in rects] == ["train: 226", "valid: 32", "test: 56"]
    words = texts(root)
    assert words[0] == "Clips per split" and words[-1] == "clips"
    assert {"train", "valid", "test"} <= set(words)
    assert [w for w in words if w.isdigit()] == ["0", "50", "100", "150", "200", "250"]
    assert root.get("aria-label") == "Clips per split"


def test_bars_text_is_escaped_and_long_labels_truncated():
    markup = '<script>"a" & \x01b</script>'
    long = "a" * 40
    svg = figures.bars({markup: 3, long: 1.5}, "Tags <top> & more")
    assert "<script" not in svg
    words = texts(parse(svg))
    assert markup.replace("\x01", "") in words  # shown verbatim as text; XML forbids the control character
    assert "a" * 31 + "…" in words and long not in words
    assert "Tags <top> & more" in words


def test_same_data_gives_the_same_bytes():
    values = {"peak_dbfs": np.random.default_rng(0).normal(-9.5, 0.3, 300), "silence_ratio": np.zeros(300)}
    assert figures.histograms(values) == figures.histograms({k: v.copy() for k, v in values.items()})
    assert figures.bars({"x": 0.0625, "y": 0.02}, "Hours", "hours") == figures.bars({"x": 0.0625, "y": 0.02}, "Hours", "hours")


def test_histograms_count_finite_values_per_panel():
    values = {"a": np.array([0.0, 0.0, 0.0, 1.0, np.nan, np.inf]), "b": np.arange(10.0), "c": np.full(5, 8000.0)}
    root = parse(figures.histograms(values, bins=2, columns=2))
    heights = [float(r.get("height")) for r in root.findall("s:rect", NS)]
    assert len(heights) == 6
    assert heights[0] == pytest.approx(3 * heights[1], abs=0.2) and heights[1] > 0  # 3 zeros, a one; no NaN, inf
    assert heights[2] == heights[3] > 0
    assert heights[5] == 0 < heights[4]  # all equal: one bin holds them (range value..value+1)
    words = texts(root)
    assert {"a", "b", "c"} <= set(words) and {"0", "0.2", "1", "8000", "8000.2", "8001"} <= set(words)
    assert root.get("width") == "640" and float(root.get("height")) > 2 * 150  # two columns, two rows


def test_ticks_are_round_and_cover_the_range():
    assert figures._ticks(226) == [0, 50, 100, 150, 200, 250]
    assert figures._ticks(0.063) == [0.0, 0.02, 0.04, 0.06, 0.08]
    assert figures._ticks(-9.0, -10.3, most=8) == [-10.4, -10.2, -10.0, -9.8, -9.6, -9.4, -9.2, -9.0]


def test_spectrogram_is_a_magma_png_with_the_tone_at_its_frequency():
    rate, freq = 16000, 2000.0
    t = np.arange(rate) / rate
    png = figures.spectrogram(0.5 * np.sin(2 * np.pi * freq * t), rate)
    assert png == figures.spectrogram(0.5 * np.sin(2 * np.pi * freq * t), rate)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert image.shape == (128, 360, 3)
    brightest = int(image.astype(int).sum(axis=2).mean(axis=1).argmax())
    assert abs((1 - brightest / 127) * rate / 2 - freq) < rate / 2 / 64  # low frequencies at the bottom
    assert figures.LUT.shape == (256, 3)
    assert figures.LUT[0].tolist() == [0, 0, 4] and figures.LUT[-1].tolist() == [252, 253, 191]
    assert np.all(np.diff(figures.LUT.astype(int).sum(axis=1)) >= 0)  # dark to bright, as magma
