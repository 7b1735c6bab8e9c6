"""Why tunescribe does not offer Beam's DaskRunner: a minimal reproduction of its silent data loss.

Three tiny pipelines, each run on the given runner, and what landed on disk counted:
  1. a DoFn that emits its outputs in finish_bundle, into one sink;
  2. WriteToParquet of 100 rows;
  3. three sinks on three branches of one PCollection.

  python benchmarks/dask_data_loss.py DirectRunner /tmp/direct
  # DaskRunner needs Beam's [dask] extra; keep it out of the project's environment:
  python -m venv /tmp/daskenv && /tmp/daskenv/bin/pip install "apache-beam[dask]==2.77.0" pyarrow
  /tmp/daskenv/bin/python benchmarks/dask_data_loss.py DaskRunner /tmp/dask

Measured with Beam 2.77.0, dask/distributed 2026.8.0 (no error, no warning about it):
  DirectRunner {"finish_bundle_outputs (of 100)": 100, "parquet_rows (of 100)": 100, "branches_written (of 3)": 3}
  DaskRunner   {"finish_bundle_outputs (of 100)": 0, "parquet_rows (of 100)": 0, "branches_written (of 3)": 1}
"""
import glob
import json
import os
import shutil
import sys

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

RUNNERS = {"DaskRunner": "apache_beam.runners.dask.dask_runner.DaskRunner"}


class EmitInFinishBundle(beam.DoFn):
    def start_bundle(self):
        self.buf = []

    def process(self, x):
        self.buf.append(x)

    def finish_bundle(self):
        for x in self.buf:
            yield WindowedValue(x, -1, [GlobalWindow()])


def write_count(path):
    def write(xs):
        with open(path, "w") as f:
            f.write(str(len(xs)))
    return write


def run(runner, build):
    with beam.Pipeline(argv=["--runner=" + RUNNERS.get(runner, runner)]) as p:
        build(p | beam.Create(range(100)))


def main(runner, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    # 1. outputs emitted in finish_bundle, one sink
    run(runner, lambda nums: nums | beam.ParDo(EmitInFinishBundle()) | beam.combiners.ToList()
        | beam.Map(write_count(f"{out}/finish_bundle.txt")))
    # 2. WriteToParquet, one sink
    run(runner, lambda nums: nums | beam.Map(lambda x: {"x": x})
        | beam.io.WriteToParquet(f"{out}/rows", pa.schema([("x", pa.int64())]), file_name_suffix=".parquet"))
    # 3. three sink branches off one PCollection
    def branches(nums):
        for i in range(3):
            nums | f"List{i}" >> beam.combiners.ToList() | f"Write{i}" >> beam.Map(write_count(f"{out}/branch{i}.txt"))
    run(runner, branches)

    def read(f):
        return int(open(f).read()) if os.path.exists(f) else 0

    print(runner, json.dumps({
        "finish_bundle_outputs (of 100)": read(f"{out}/finish_bundle.txt"),
        "parquet_rows (of 100)": sum(pq.read_table(f).num_rows for f in glob.glob(f"{out}/rows*.parquet")),
        "branches_written (of 3)": sum(os.path.exists(f"{out}/branch{i}.txt") for i in range(3)),
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
