"""Checks on the Lambda artifact `make package` builds (built once per session, ~1 min).

What a Python 3.11 host can check, and what it cannot: every compiled extension's ABI tag and
ELF header, the GLIBC/GLIBCXX symbol versions it needs, wheel tags, sizes and contents need no
interpreter at all. Importing with 3.11 covers only the pure-Python part (ledger, Jinja2,
py-moneyed/Babel, ...): cp312 extensions (pydantic_core, numpy, onnxruntime, re2, Pillow) do
not load in 3.11, so app.py cannot be imported that way. When a CPython 3.12 is on the machine
(PYTHON312, python3.12 on PATH, or pyenv), the whole artifact is imported and a real score is
computed under it with only the artifact and a boto3 stand-in on sys.path: that is the check
that matters, and it is skipped (with the reason) where no 3.12 exists.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from packaging.tags import parse_tag

from infra import package

pytestmark = pytest.mark.xdist_group("artifact")

ROOT = Path(__file__).resolve().parents[2]
# One directory per test process: engineers may run the suite concurrently in one tree.
OUT = ROOT / "build" / "test-artifact" / f"run-{os.getpid()}"
LAST_MANIFEST = ROOT / "build" / "test-artifact" / "last-manifest.json"
STAGE = "dev"
MAX_GLIBC = package.TARGET.max_glibc
# Amazon Linux 2023 ships GCC 11's libstdc++ (GLIBCXX_3.4.29, CXXABI_1.3.13); wheels may not
# vendor libstdc++ under the manylinux policies, so they must not need newer.
MAX_GLIBCXX = (3, 4, 29)
MAX_CXXABI = (1, 3, 13)
DEV_ONLY = ("sklearn", "pandas", "moto", "pytest", "skl2onnx", "onnx", "chalice/cli", "boto3",
            "botocore", "s3transfer", "urllib3")


@pytest.fixture(scope="session")
def artifact() -> Iterator[dict[str, Any]]:
    """Builds into build/test-artifact (never touching `make package`'s build/package)."""
    manifest = package.build(STAGE, OUT)
    LAST_MANIFEST.write_text(json.dumps(manifest))
    stage_dir = OUT / STAGE
    extracted = OUT / "extracted"
    zips = {"task": stage_dir / "deployment.zip", "opt": stage_dir / "layer.zip"}
    for name, archive in zips.items():
        package.unzip(archive, extracted / name)
    yield {
        "manifest": manifest,
        "template": json.loads((stage_dir / "template.json").read_text()),
        "zips": zips,
        "task": extracted / "task",
        "layer": extracted / "opt" / "python",
    }
    shutil.rmtree(OUT, ignore_errors=True)


def _names(archive: Path) -> set[str]:
    with zipfile.ZipFile(archive) as zf:
        return set(zf.namelist())


def test_handler_ledger_and_model_are_inside(artifact):
    names = _names(artifact["zips"]["task"])
    for required in ("app.py", "chalicelib/api/auth.py", "ledger/__init__.py",
                     "ledger/dynamodb.py", "models_onnx/german_credit_v1.onnx",
                     "models_onnx/german_credit_v1.card.json", "chalice/app.py"):
        assert required in names, required
    with zipfile.ZipFile(artifact["zips"]["task"]) as zf:
        shipped = zf.read("models_onnx/german_credit_v1.onnx")
    assert shipped == (ROOT / "models_onnx" / "german_credit_v1.onnx").read_bytes()
    # Training code (scikit-learn) is not shipped; the model files are.
    assert "models_onnx/train_german_credit.py" not in names
    for fn in _functions(artifact["template"]).values():
        module = fn["Handler"].rsplit(".", 1)[0].replace(".", "/") + ".py"
        assert module in names, fn["Handler"]


def test_api_reference_bundle_is_inside(artifact):
    """GET /docs is served by the deployed function itself (chalicelib/api/reference.py)."""
    from chalicelib.api.reference import REDOC, REDOC_SHA256

    with zipfile.ZipFile(artifact["zips"]["task"]) as zf:
        bundle = zf.read(f"chalicelib/api/reference_assets/{REDOC}")
    assert hashlib.sha256(bundle).hexdigest() == REDOC_SHA256


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items()
            if v["Type"] == "AWS::Serverless::Function"}


def test_every_function_runs_python312_x86_64_with_the_layer(artifact):
    functions = _functions(artifact["template"])
    assert {"APIHandler", "ApiKeyAuthorizer"} <= set(functions)
    for fn in functions.values():
        assert fn["Runtime"] == "python3.12"
        assert fn["Architectures"] == ["x86_64"]
        assert fn["Layers"] == [{"Ref": "DependenciesLayer"}]
    layer = artifact["template"]["Resources"]["DependenciesLayer"]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]
    assert artifact["manifest"]["runtime"] == "python3.12"


def test_every_dependency_is_shipped_and_nothing_dev_only(artifact):
    dists = artifact["manifest"]["distributions"]
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name = line.split("#")[0].split("==")[0].strip().lower()
        if name and name not in package.RUNTIME_PROVIDED:
            assert name.replace("_", "-") in dists, name
    layer_names = _names(artifact["zips"]["opt"])
    for dev in DEV_ONLY:
        assert not any(n.startswith(f"python/{dev}/") for n in layer_names), dev


def test_every_shipped_distribution_is_pinned(artifact):
    """A rebuild ships the same wheels: top-level pins in requirements.txt, the rest in
    infra/lambda-constraints.txt (a new transitive dependency must be pinned there)."""
    pins: dict[str, str] = {}
    for path in (ROOT / "requirements.txt", ROOT / "infra" / "lambda-constraints.txt"):
        for line in path.read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                pins[re.sub(r"[-_.]+", "-", name.lower())] = version
    for name, version in artifact["manifest"]["distributions"].items():
        assert pins.get(name) == version, f"pin {name}=={version} in infra/lambda-constraints.txt"


def _so_files(archive: Path) -> Iterator[tuple[str, bytes]]:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if re.search(r"\.so(\.[0-9.]+)?$", info.filename):
                yield info.filename, zf.read(info)


def _needed_versions(data: bytes) -> tuple[int, set[str]]:
    elf = ELFFile(io.BytesIO(data))
    needed: set[str] = set()
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for _verneed, auxes in section.iter_versions():
                needed |= {aux.name for aux in auxes}
    return elf["e_machine"], needed


def _max_version(needed: set[str], prefix: str) -> tuple[int, ...]:
    versions = [tuple(int(x) for x in n[len(prefix):].split("."))
                for n in needed if n.startswith(prefix) and n[len(prefix):][:1].isdigit()]
    return max(versions, default=(0,))


def test_every_extension_matches_the_target_abi_and_glibc(artifact):
    checked, worst = 0, {"GLIBC_": (0,), "GLIBCXX_": (0,), "CXXABI_": (0,)}
    for archive in artifact["zips"].values():
        for name, data in _so_files(archive):
            tag = re.search(r"\.(cpython-\d+[a-z]*-[^./]+|abi3)\.so$", name)
            if tag and tag.group(1) != "abi3":
                assert tag.group(1) == "cpython-312-x86_64-linux-gnu", name
            machine, needed = _needed_versions(data)
            assert machine == "EM_X86_64", name
            for prefix, limit in (("GLIBC_", MAX_GLIBC), ("GLIBCXX_", MAX_GLIBCXX),
                                  ("CXXABI_", MAX_CXXABI)):
                v = _max_version(needed, prefix)
                assert v <= limit, f"{name} needs {prefix}{'.'.join(map(str, v))}"
                worst[prefix] = max(worst[prefix], v)
            checked += 1
    assert checked >= 20  # numpy, onnxruntime, pydantic_core, re2, Pillow, ... are there
    print(f"{checked} ELF files; newest symbol versions needed: "
          + ", ".join(f"{p}{'.'.join(map(str, v))}" for p, v in worst.items()))


def test_wheel_tags_fit_the_target(artifact):
    layer = artifact["layer"]
    for wheel in layer.glob("*.dist-info/WHEEL"):
        tags = [t for line in wheel.read_text().splitlines() if line.startswith("Tag:")
                for t in parse_tag(line.split(":", 1)[1].strip())]
        assert tags, wheel
        assert any(_fits(t) for t in tags), f"{wheel.parent.name}: {tags}"


def _fits(tag: Any) -> bool:
    if tag.platform == "any":
        return tag.interpreter.startswith("py3") or tag.interpreter == "cp312"
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64|manylinux(2014|2010|1)_x86_64", tag.platform)
    if not m:
        return False
    legacy = {"2014": (2, 17), "2010": (2, 12), "1": (2, 5)}
    glibc = legacy[m.group(3)] if m.group(3) else (int(m.group(1)), int(m.group(2)))
    if glibc > MAX_GLIBC:
        return False
    if tag.abi == "abi3":
        return int(tag.interpreter[3:] or 0) <= 312
    return tag.interpreter == "cp312" and tag.abi == "cp312"


def test_unzipped_size_fits_lambda_with_margin(artifact):
    total = 0
    for archive in artifact["zips"].values():
        with zipfile.ZipFile(archive) as zf:
            total += sum(i.file_size for i in zf.infolist())
    limit = package.LAMBDA_UNZIPPED_LIMIT
    print(f"unzipped function + layer: {total / 2**20:.1f} MiB of {limit / 2**20:.0f} MiB, "
          f"margin {(limit - total) / 2**20:.1f} MiB")
    assert total == artifact["manifest"]["total_unzipped_bytes"]
    assert limit - total > 32 * 2**20, "less than 32 MiB of margin: prune more (infra/package.py)"


def _run(python: str, code: str, paths: list[Path], *args: str) -> str:
    """-I -S: no site-packages, no PYTHONPATH, no user site: only the stdlib and `paths`."""
    boot = "import sys; sys.path[:0] = " + repr([str(p) for p in paths]) + "\n"
    env = {"PATH": os.environ.get("PATH", ""), "LENDING_STAGE": "artifact-test"}
    proc = subprocess.run([python, "-I", "-S", "-c", boot + code, *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


PURE_MODULES = ("ledger", "ledger.dynamodb", "ledger.verification", "ledger.two_phase",
                "jinja2", "jinja2.sandbox", "moneyed", "babel.numbers", "lark", "jmespath",
                "dateutil.parser", "defusedxml.ElementTree", "yaml", "typing_extensions",
                "annotated_types", "packaging.version", "markupsafe", "six", "tzdata",
                "mimeparse")


def test_pure_python_modules_import_with_only_the_artifact(artifact):
    """Python 3.11 (this venv's) with nothing but the artifact: the pure-Python part loads."""
    roots = [artifact["task"], artifact["layer"]]
    code = (
        "import importlib, json\n"
        f"mods = {PURE_MODULES!r}\n"
        "files = {m: importlib.import_module(m).__file__ for m in mods}\n"
        "print(json.dumps(files))\n"
    )
    files = json.loads(_run(sys.executable, code, roots))
    for module, file in files.items():
        assert any(file.startswith(str(r)) for r in roots), f"{module} came from {file}"


def test_tenant_time_zones_resolve_from_the_artifact_alone(artifact):
    """The Lambda image has no /usr/share/zoneinfo: tenants' IANA zones come from the shipped
    tzdata package, so resolving one with the system paths switched off must work."""
    code = ("import zoneinfo\nzoneinfo.reset_tzpath([])\n"
            "print(zoneinfo.ZoneInfo('Asia/Shanghai').key, "
            "'Asia/Shanghai' in zoneinfo.available_timezones())\n")
    assert _run(sys.executable, code, [artifact["task"], artifact["layer"]]).split() == [
        "Asia/Shanghai", "True"]


def test_whole_artifact_imports_and_scores_under_python312(artifact):
    python312 = package.find_python312()
    if python312 is None:
        pytest.skip("no CPython 3.12 here (set PYTHON312): only the 3.11 checks ran")
    from chalicelib.scoring.registry import default_scorer
    from tests.unit.scoring.conftest import SAFE

    expected = default_scorer().score(SAFE).as_dict()
    runtime = package.install_runtime_standin(OUT / "runtime-standin")
    roots = [artifact["task"], artifact["layer"]]
    code = r"""
import importlib, json, pkgutil, sys
import app
assert "onnxruntime" not in sys.modules, "app imports onnxruntime at cold start"
import chalicelib, ledger
loaded = []
for pkg in (chalicelib, ledger):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
        loaded.append(info.name)
for extra in ("fpdf", "celpy", "re2", "PIL.Image", "pendulum", "pydantic", "numpy",
              "onnxruntime", "google.protobuf", "fontTools.ttLib", "pynamodb.models"):
    importlib.import_module(extra)
from chalicelib.scoring.registry import default_scorer
result = default_scorer().score(json.loads(sys.argv[1])).as_dict()
import babel, moneyed  # the pruned locale data still formats the locales we keep
from babel.numbers import format_currency
from decimal import Decimal
assert format_currency(Decimal("1234.50"), "CNY", locale="zh_Hans_CN") == "¥1,234.50"
assert format_currency(Decimal("1234.50"), "USD", locale="en_US") == "$1,234.50"
assert moneyed.get_currency("CNY").name
outside = sorted({m.__name__ for m in list(sys.modules.values())
                  if getattr(m, "__file__", None) and "site-packages" in m.__file__})
print(json.dumps({"result": result, "loaded": len(loaded), "outside": outside,
                  "version": sys.version_info[:2]}))
"""
    out = json.loads(_run(python312, code, [*roots, runtime], json.dumps(SAFE)).splitlines()[-1])
    assert out["version"] == [3, 12]
    assert out["outside"] == [], "modules loaded from a site-packages outside the artifact"
    assert out["loaded"] > 30
    assert out["result"] == expected  # same model, same onnxruntime: the same answer


def test_generated_template_passes_cfn_lint(artifact):
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    template = OUT / STAGE / "template.json"
    proc = subprocess.run([str(cfn_lint), str(template)], capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tag_and_version_checks_reject_what_the_runtime_cannot_load():
    """The checks above would catch a wrong wheel: a glibc 2.35 or cp311 tag fails them."""
    assert _fits(next(iter(parse_tag("cp312-cp312-manylinux_2_28_x86_64"))))
    assert _fits(next(iter(parse_tag("cp39-abi3-manylinux2014_x86_64"))))
    assert _fits(next(iter(parse_tag("py3-none-any"))))
    assert not _fits(next(iter(parse_tag("cp312-cp312-manylinux_2_35_x86_64"))))
    assert not _fits(next(iter(parse_tag("cp311-cp311-manylinux_2_17_x86_64"))))
    assert not _fits(next(iter(parse_tag("cp312-cp312-manylinux_2_17_aarch64"))))
    assert _max_version({"GLIBC_2.17", "GLIBC_2.35", "GLIBC_PRIVATE"}, "GLIBC_") == (2, 35)


def test_build_fails_on_a_missing_dependency(tmp_path):
    dist = tmp_path / "needy-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: needy\nVersion: 1.0\n"
                                   "Requires-Dist: numpy>=1\n"
                                   "Requires-Dist: tomli; python_version < '3.11'\n")
    with pytest.raises(package.BuildError, match="needy needs numpy>=1"):
        package.check_closure(tmp_path, provided=())


def test_build_fails_on_chalice_warnings(monkeypatch, tmp_path):
    said = "Could not install dependencies:\nnumpy==2.4.6\nThis may not work correctly"
    monkeypatch.setattr(package, "_run", lambda *a, **k: "Creating deployment package.\n" + said)
    with pytest.raises(package.BuildError, match="Could not install dependencies"):
        package.chalice_package(tmp_path, tmp_path / "out", "dev")


def test_template_meters_each_tenant_through_its_usage_key(artifact):
    resources = artifact["template"]["Resources"]
    body = resources["RestAPI"]["Properties"]["DefinitionBody"]
    assert body["x-amazon-apigateway-api-key-source"] == "AUTHORIZER"
    assert resources["TenantUsagePlan"]["Type"] == "AWS::ApiGateway::UsagePlan"
    env = resources["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["LENDING_USAGE_PLAN_ID"] == {"Ref": "TenantUsagePlan"}
    ops = body["paths"]
    tenant_op = ops["/v1/ledger/accounts"]["get"]["security"]
    platform_op = ops["/v1/tenants"]["post"]["security"]
    assert any("api_key" in s for s in tenant_op), "tenant calls must carry the usage key"
    assert not any("api_key" in s for s in platform_op), "the platform is in no tenant's plan"
    assert "security" not in ops["/v1/health"]["get"] or not any(
        "api_key" in s for s in ops["/v1/health"]["get"].get("security", []))


def test_gateway_errors_are_complete_problems(artifact):
    """The gateway answers these itself (no key, throttled, unknown route, its 29 s timeout):
    each body, once API Gateway fills in $context, is a whole Problem with its own status."""
    from chalicelib.api.schemas import Problem
    from infra import gateway_problems

    body = artifact["template"]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert responses == gateway_problems.gateway_responses()
    assert {"UNAUTHORIZED", "THROTTLED", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for response in responses.values():
        text = response["responseTemplates"]["application/json"]
        filled = json.loads(text.replace("$context.path", "/v1/x")
                            .replace("$context.requestId", "req-1"))
        assert Problem.model_validate(filled).status == int(response["statusCode"])
        assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == \
            "'application/problem+json'"
