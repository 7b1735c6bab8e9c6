"""transforms/evaluation/suite.py: reading evaluation files."""

from __future__ import annotations

from tunescribe.transforms.evaluation.suite import read_rows


def test_a_quoted_csv_cell_keeps_its_line_breaks(tmp_path):
    path = tmp_path / "captions.csv"
    path.write_bytes(b'ytid,caption\r\na,"first line.\r\nsecond line."\r\nb,plain\r\n')
    assert read_rows(path) == [{"ytid": "a", "caption": "first line.\r\nsecond line."},
                               {"ytid": "b", "caption": "plain"}]
