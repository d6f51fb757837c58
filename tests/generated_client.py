"""Generates the partner's Python client from the committed openapi.yaml, as a partner would.

`openapi-python-client generate --path openapi.yaml` with no config file: its post hooks run
`ruff` (found on PATH next to this interpreter), so a clean run prints only "Generating ...".
Everything else it prints (a "Warning", an "Unable to process schema" block, "ruff is not in
PATH") means the contract lost something in translation.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "openapi.yaml"
PACKAGE = "lending_api_client"  # from the contract's info.title, "Lending API"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Generated:
    package_dir: Path
    output: str  # stdout and stderr of the generator, interleaved

    def unexpected_lines(self) -> list[str]:
        """Every non-blank line of output other than the one announcing the package."""
        return [line for line in self.output.splitlines()
                if line.strip() and line != f"Generating {self.package_dir}"]


def generate(dest: Path) -> Generated:
    """Runs the generator into `dest`/lending_api_client (a fresh folder)."""
    package_dir = dest / PACKAGE
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(SPEC), "--meta", "none",
         "--output-path", str(package_dir)],
        cwd=dest, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openapi-python-client failed ({done.returncode}):\n{done.stdout}")
    return Generated(package_dir, done.stdout)


def load(generated: Generated) -> ModuleType:
    """Imports the generated package from its folder (sys.path), as a partner's code would."""
    parent = str(generated.package_dir.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    return importlib.import_module(PACKAGE)
