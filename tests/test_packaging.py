"""Every package folder is installed under the `tunescribe` namespace; nothing else is."""

import pathlib

import tomllib

REPO = pathlib.Path(__file__).resolve().parents[1]
ROOTS = {"pipelines": "tunescribe.pipelines", "transforms": "tunescribe.transforms", "schemas": "tunescribe.schemas"}


def test_every_package_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {v: k for k, v in ROOTS.items()}
    found = {
        ROOTS[init.relative_to(REPO).parts[0]] + "".join("." + p for p in init.relative_to(REPO).parts[1:-1])
        for root in ROOTS for init in (REPO / root).rglob("__init__.py")
    }
    assert set(config["packages"]) == found


def test_imports_under_the_namespace():
    import tunescribe.pipelines.cli
    import tunescribe.schemas
    import tunescribe.transforms.audio.decode  # noqa: F401
