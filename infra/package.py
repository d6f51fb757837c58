"""`make package`: the Lambda deployment for python3.12 on x86_64, built explicitly.

Why not plain `chalice package`: it ships only app.py, chalicelib/ and vendor/ (ledger/ and
models_onnx/ would be silently left out), and it resolves wheels for the *local* interpreter's
runtime (python3.11 here, glibc 2.26), printing a warning and shipping without numpy/onnxruntime.
So this script:

1. stages a build dir: app.py, chalicelib/, .chalice/ (config + policy files) and vendor/ holding
   ledger/ and the shipped model files; requirements.txt is empty so chalice builds nothing;
2. installs the runtime wheels for cp312 / manylinux (glibc <= 2.34) with pip's --platform
   options into a Lambda layer (python/), minus what the python3.12 runtime already provides
   (boto3, botocore, s3transfer, urllib3) unless --bundle-boto3; every remaining distribution's
   requirements must be met, or the build fails;
3. runs `chalice package` and fails on any warning it prints (e.g. "Could not install
   dependencies");
4. byte-compiles, with a 3.12 interpreter when one is available, exactly the modules the handlers
   import at cold start (Lambda cannot write __pycache__ in /var/task), and re-zips both trees
   deterministically;
5. post-processes the SAM template (infra/sam_template.py): runtime, layer, IAM, throttling,
   alarms.

Output: build/package/<stage>/ with deployment.zip, layer.zip, template.json, manifest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "package"
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # function + all layers, unzipped


@dataclass(frozen=True)
class Target:
    """The Lambda runtime we build for; see docs/deploying.md for the choice."""

    runtime: str = "python3.12"
    python_version: str = "3.12"
    abi: str = "cp312"
    architecture: str = "x86_64"
    max_glibc: tuple[int, int] = (2, 34)  # python3.12 runs on Amazon Linux 2023 (glibc 2.34)
    platforms: tuple[str, ...] = (
        "manylinux2014_x86_64",
        "manylinux_2_28_x86_64",
        "manylinux_2_34_x86_64",
    )

    def marker_environment(self) -> dict[str, str]:
        env = dict(default_environment())
        env.update(
            python_version=self.python_version,
            python_full_version=f"{self.python_version}.0",
            implementation_name="cpython",
            platform_python_implementation="CPython",
            sys_platform="linux",
            platform_system="Linux",
            platform_machine=self.architecture,
            os_name="posix",
        )
        return env


TARGET = Target()
# Shipped by the python3.12 Lambda runtime in /var/runtime (behind /var/task and /opt/python on
# sys.path). Our code uses only long-standing DynamoDB/S3/KMS/Secrets Manager calls.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "urllib3"})
# Files of models_onnx/ the runtime needs; its .py files import scikit-learn (training only).
MODEL_PATTERNS = ("__init__.py", "*.onnx", "*.card.json", "README.md")
CHALICE_WARNINGS = ("could not install", "warning", "error")


class BuildError(RuntimeError):
    """Any reason the artifact would not run as tested; the build stops."""


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{out}")
    return out


def _copytree(src: Path, dst: Path, patterns: Iterable[str] | None = None) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    if patterns is None:
        shutil.copytree(src, dst, ignore=ignore)
        return
    dst.mkdir(parents=True, exist_ok=True)
    for pattern in patterns:
        for f in sorted(src.glob(pattern)):
            shutil.copy2(f, dst / f.name)


def stage_source(stage_dir: Path, stage: str) -> Path:
    """The directory chalice packages: our code only, third-party code goes to the layer."""
    src = stage_dir / "src"
    src.mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", src / "app.py")
    _copytree(ROOT / "chalicelib", src / "chalicelib")
    _copytree(ROOT / "ledger", src / "vendor" / "ledger")
    _copytree(ROOT / "models_onnx", src / "vendor" / "models_onnx", MODEL_PATTERNS)
    (src / ".chalice").mkdir()
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if stage not in config.get("stages", {}):
        raise BuildError(f"stage {stage!r} is not in .chalice/config.json")
    (src / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    for policy in (ROOT / ".chalice").glob(f"policy-{stage}*.json"):
        shutil.copy2(policy, src / ".chalice" / policy.name)
    (src / "requirements.txt").write_text("")  # chalice must not build dependencies itself
    return src


def _pip_install(dest: Path, args: list[str], target: Target = TARGET) -> None:
    """Wheels for the target only (never sdists: they would compile for this machine)."""
    cmd = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-compile", "--only-binary=:all:", "--implementation", "cp",
        "--python-version", target.python_version, "--abi", target.abi,
        "--target", str(dest), "-c", str(ROOT / "infra" / "lambda-constraints.txt"), *args,
    ]
    for platform in target.platforms:
        cmd[4:4] = ["--platform", platform]
    _run(cmd)


def install_dependencies(layer_python: Path, bundle_boto3: bool) -> None:
    _pip_install(layer_python, ["-r", str(ROOT / "requirements.txt")])
    if not bundle_boto3:
        for dist in sorted(RUNTIME_PROVIDED):
            remove_distribution(layer_python, dist)
    shutil.rmtree(layer_python / "bin", ignore_errors=True)  # console scripts: useless on Lambda
    prune(layer_python)


#: Babel's locale data is 32 MiB of the layer; py-moneyed needs `root` (and the locales we
#: format money in) only. Every other locale and numpy's test suites go (~38 MiB of margin).
KEPT_LOCALES = ("root", "en", "zh")


def prune(site: Path) -> None:
    """Drops data Lambda never reads, so the artifact keeps a margin under the 250 MiB limit."""
    for data in (site / "babel" / "locale-data").glob("*.dat"):
        if data.stem.split("_")[0] not in KEPT_LOCALES:
            data.unlink()
    for tests in sorted(site.glob("numpy/**/tests")):
        shutil.rmtree(tests)


def _dist_infos(site: Path) -> dict[str, Path]:
    out = {}
    for info in site.glob("*.dist-info"):
        name = (info / "METADATA").read_text(encoding="utf-8").split("\nName: ", 1)[1]
        out[canonicalize_name(name.split("\n", 1)[0].strip())] = info
    return out


def remove_distribution(site: Path, name: str) -> None:
    """Removes exactly the files a distribution's RECORD lists (not a guess by directory)."""
    info = _dist_infos(site).get(canonicalize_name(name))
    if info is None:
        return
    for line in (info / "RECORD").read_text(encoding="utf-8").splitlines():
        rel = line.split(",", 1)[0]
        path = (site / rel).resolve()
        if rel and path.is_file() and site.resolve() in path.parents:
            path.unlink()
    shutil.rmtree(info, ignore_errors=True)
    for d in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()


def installed_versions(site: Path) -> dict[str, str]:
    out = {}
    for name, info in _dist_infos(site).items():
        meta = (info / "METADATA").read_text(encoding="utf-8")
        out[name] = meta.split("\nVersion: ", 1)[1].split("\n", 1)[0].strip()
    return out


def check_closure(site: Path, provided: Iterable[str], target: Target = TARGET) -> None:
    """Every requirement of every shipped distribution is shipped or provided by the runtime."""
    have = installed_versions(site)
    provided = {canonicalize_name(p) for p in provided}
    env = target.marker_environment()
    missing = []
    for name, info in _dist_infos(site).items():
        for line in (info / "METADATA").read_text(encoding="utf-8").splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker and not req.marker.evaluate({**env, "extra": ""}):
                continue
            dep = canonicalize_name(req.name)
            if dep in provided:
                continue
            if dep not in have or not req.specifier.contains(have[dep], prereleases=True):
                missing.append(f"{name} needs {req} (shipped: {have.get(dep, 'nothing')})")
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            dep = canonicalize_name(req.name)
            if dep not in have and dep not in provided:
                missing.append(f"requirements.txt: {req} is not in the artifact")
    if missing:
        raise BuildError("missing dependencies:\n  " + "\n  ".join(sorted(missing)))


def chalice_package(src: Path, out: Path, stage: str) -> None:
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    chalice = str(Path(sys.executable).with_name("chalice"))
    text = _run([chalice, "package", "--stage", stage, str(out)], cwd=src, env=env)
    noisy = [line for line in text.splitlines()
             if any(w in line.lower() for w in CHALICE_WARNINGS)]
    if noisy:
        raise BuildError("chalice package warned; refusing to ship:\n" + "\n".join(noisy))


def unzip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    for info in zipfile.ZipFile(archive).infolist():  # keep the executable bits
        mode = info.external_attr >> 16
        if mode:
            (dest / info.filename).chmod(mode & 0o777)


def write_zip(tree: Path, archive: Path) -> None:
    """Deterministic: sorted names, fixed timestamps, 0644/0755 modes."""
    archive.unlink(missing_ok=True)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            rel = path.relative_to(tree).as_posix()
            info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as fh:
                zf.writestr(info, fh.read(), compresslevel=6)


def find_python312() -> str | None:
    """A CPython 3.12 to import and byte-compile the artifact with, if this machine has one."""
    candidates = [os.environ.get("PYTHON312", ""), shutil.which("python3.12") or ""]
    candidates += sorted(str(p) for p in Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"))
    for c in candidates:
        if not c:
            continue
        try:
            out = subprocess.run([c, "-c", "import sys; print(sys.version_info[:2])"],
                                 capture_output=True, text=True, check=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        if out.strip() == "(3, 12)":
            return c
    return None


# Run by python3.12 with only the artifact on sys.path: import what each handler imports at
# cold start, then byte-compile exactly those files (unchecked hash: the artifact is immutable).
_COMPILE_COLD_PATH = r"""
import importlib.util, json, py_compile, sys
sys.path[:0] = sys.argv[1:]
roots = sys.argv[1:3]  # function and layer; the runtime stand-in is not ours to compile
import app  # API handler
import chalicelib.api.auth  # authorizer
assert "onnxruntime" not in sys.modules, "the handler imports onnxruntime at cold start"
files = sorted({m.__file__ for m in list(sys.modules.values())
                if getattr(m, "__file__", None) and m.__file__.endswith(".py")
                and any(m.__file__.startswith(r) for r in roots)})
for f in files:
    py_compile.compile(f, cfile=importlib.util.cache_from_source(f), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
print(json.dumps(len(files)))
"""


def install_runtime_standin(dest: Path) -> Path:
    """What /var/runtime provides (boto3 & co., our pinned versions), for imports at build and
    test time only; never shipped."""
    if not (dest / "botocore").is_dir():
        _pip_install(dest, ["--no-deps", *sorted(RUNTIME_PROVIDED)])
    return dest


def compile_cold_path(python312: str, function_dir: Path, layer_python: Path,
                      runtime: Path) -> int:
    """Python 3.12 imports the handlers the way Lambda would (/var/task, /opt/python,
    /var/runtime) and byte-compiles what they loaded from the artifact."""
    env = {"PATH": os.environ.get("PATH", ""), "LENDING_STAGE": "build"}
    out = _run([python312, "-I", "-S", "-c", _COMPILE_COLD_PATH,
                str(function_dir), str(layer_python), str(runtime)], env=env)
    return int(out.strip().splitlines()[-1])


def tree_size(tree: Path) -> int:
    return sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())


def build(stage: str = "dev", out_root: Path = BUILD, bundle_boto3: bool = False,
          compile_pyc: bool = True) -> dict[str, Any]:
    """Builds everything into out_root/<stage>; returns the manifest (also written as JSON)."""
    from infra import sam_template

    stage_dir = out_root / stage
    shutil.rmtree(stage_dir, ignore_errors=True)
    stage_dir.mkdir(parents=True)
    src = stage_source(stage_dir, stage)
    layer_python = stage_dir / "layer" / "python"
    install_dependencies(layer_python, bundle_boto3)
    provided = set() if bundle_boto3 else RUNTIME_PROVIDED
    check_closure(layer_python, provided)

    sam_dir = stage_dir / "sam"
    chalice_package(src, sam_dir, stage)
    function_dir = stage_dir / "function"
    unzip(sam_dir / "deployment.zip", function_dir)
    for required in ("app.py", "chalicelib/__init__.py", "ledger/__init__.py",
                     "models_onnx/german_credit_v1.onnx"):
        if not (function_dir / required).is_file():
            raise BuildError(f"{required} is missing from chalice's deployment.zip")

    python312 = find_python312() if compile_pyc else None
    compiled = 0
    if python312:
        runtime = install_runtime_standin(out_root / "runtime-standin")
        compiled = compile_cold_path(python312, function_dir, layer_python, runtime)

    write_zip(function_dir, stage_dir / "deployment.zip")
    write_zip(stage_dir / "layer", stage_dir / "layer.zip")
    template = sam_template.postprocess(json.loads((sam_dir / "sam.json").read_text()), stage)
    (stage_dir / "template.json").write_text(json.dumps(template, indent=2, sort_keys=True))

    function_bytes, layer_bytes = tree_size(function_dir), tree_size(stage_dir / "layer")
    total = function_bytes + layer_bytes
    manifest = {
        "stage": stage,
        "runtime": TARGET.runtime,
        "architecture": TARGET.architecture,
        "max_glibc": ".".join(map(str, TARGET.max_glibc)),
        "abi": TARGET.abi,
        "runtime_provided": sorted(provided),
        "distributions": installed_versions(layer_python),
        "compiled_cold_path_modules": compiled,
        "compiled_with": python312,
        "function_unzipped_bytes": function_bytes,
        "layer_unzipped_bytes": layer_bytes,
        "total_unzipped_bytes": total,
        "limit_bytes": LAMBDA_UNZIPPED_LIMIT,
        "margin_bytes": LAMBDA_UNZIPPED_LIMIT - total,
        "deployment_zip_bytes": (stage_dir / "deployment.zip").stat().st_size,
        "layer_zip_bytes": (stage_dir / "layer.zip").stat().st_size,
    }
    (stage_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    if total >= LAMBDA_UNZIPPED_LIMIT:
        raise BuildError(f"unzipped {total / 2**20:.1f} MiB >= Lambda's 250 MiB limit")
    return manifest


def summary(manifest: dict[str, Any]) -> str:
    mib = 2**20
    return (
        f"runtime {manifest['runtime']} {manifest['architecture']} (glibc <= "
        f"{manifest['max_glibc']}, {manifest['abi']}); unzipped: function "
        f"{manifest['function_unzipped_bytes'] / mib:.1f} MiB + layer "
        f"{manifest['layer_unzipped_bytes'] / mib:.1f} MiB = "
        f"{manifest['total_unzipped_bytes'] / mib:.1f} MiB of 250 MiB, margin "
        f"{manifest['margin_bytes'] / mib:.1f} MiB; zips: "
        f"{manifest['deployment_zip_bytes'] / mib:.1f} + {manifest['layer_zip_bytes'] / mib:.1f}"
        f" MiB; cold-path .pyc: {manifest['compiled_cold_path_modules']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--out", type=Path, default=BUILD)
    parser.add_argument("--bundle-boto3", action="store_true",
                        help="ship our pinned boto3/botocore instead of the runtime's (~32 MB)")
    parser.add_argument("--no-pyc", action="store_true", help="skip cold-path byte-compilation")
    args = parser.parse_args(argv)
    try:
        manifest = build(args.stage, args.out, args.bundle_boto3, not args.no_pyc)
    except BuildError as exc:
        print(f"make package: FAILED: {exc}", file=sys.stderr)
        return 1
    print(summary(manifest))
    if not manifest["compiled_with"]:
        print("note: no Python 3.12 found (set PYTHON312); shipped without .pyc files")
    print(f"artifact: {args.out / args.stage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
