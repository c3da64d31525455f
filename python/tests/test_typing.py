"""The type stubs match the built module (mypy.stubtest), and the package and the examples
type-check strictly against them."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
PYTHON_DIR = HERE.parent
EXAMPLES = PYTHON_DIR.parent / "examples" / "python"
# The package's source folder (src layout), where mypy finds the package and its stubs.
PACKAGE_SOURCE = PYTHON_DIR / "python"


def mypy(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, cwd=PACKAGE_SOURCE
    )
    assert done.returncode == 0, done.stdout + done.stderr


# mypy starts slowly (typeshed) on a busy machine; its cache in python/python/.mypy_cache helps later.
pytestmark = pytest.mark.timeout(300)


def test_stubs_match_the_built_module() -> None:
    mypy("mypy.stubtest", "wsconnector", "--allowlist", str(HERE / "stubtest-allowlist.txt"))


def test_package_and_examples_type_check_strictly() -> None:
    mypy("mypy", "--strict", "wsconnector", str(EXAMPLES))
