"""The GitHub Action (action.yml): its metadata, and its scripts run with a fake runner environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import SIGNALCRAFT, write_repo

REPO = Path(__file__).resolve().parent.parent
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
RUN_SCRIPT = REPO / "scripts" / "action-run.sh"
INSTALL_SCRIPT = REPO / "scripts" / "action-install.sh"
SC_AUDIT = shutil.which("sc-audit", path=str(Path(sys.executable).parent)) or shutil.which("sc-audit")
ANNOTATION = re.compile(r"^::(error|warning|notice) file=([^,]+),line=(\d+)")


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if line)


def run_action(workspace: Path, runner: Path, **inputs: str) -> subprocess.CompletedProcess:
    """action-run.sh as the `audit` step runs it: INPUT_* variables, and a runner's GITHUB_* files."""
    runner.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INPUT_", "GITHUB_"))}
    env.update({
        "SC_AUDIT": SC_AUDIT,
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(runner / "output"),
        "GITHUB_STEP_SUMMARY": str(runner / "summary"),
        "RUNNER_TEMP": str(runner),
    })
    env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    return subprocess.run([str(RUN_SCRIPT)], cwd=runner, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def workspace(tmp_path):
    """A checkout holding the SignalCraft repository before (plan/) and after (fixed/) the fix."""
    return shutil.copytree(SIGNALCRAFT, tmp_path / "workspace")


def test_metadata_declares_the_inputs_outputs_and_a_composite_run():
    assert ACTION["name"] == "sc-audit" and ACTION["description"]
    defaults = {name: spec.get("default") for name, spec in ACTION["inputs"].items()}
    assert defaults == {"path": ".", "format": "github", "fail-on": "warning", "sarif": "true",
                        "sarif-file": "sc-audit.sarif", "version": ""}
    assert all(spec["description"] for spec in ACTION["inputs"].values())
    assert ACTION["runs"]["using"] == "composite"
    steps = {step.get("id"): step for step in ACTION["runs"]["steps"]}
    assert set(ACTION["outputs"]) == {"sarif-file", "exit-code"}
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.audit.outputs.{name} }}}}"
    assert all(step["shell"] == "bash" for step in steps.values() if "run" in step)
    assert steps["audit"]["env"]["SC_AUDIT"] == "${{ steps.install.outputs.sc-audit }}"


@pytest.mark.parametrize("step_id, script", [("install", INSTALL_SCRIPT), ("audit", RUN_SCRIPT)])
def test_each_script_gets_every_input_it_reads(step_id, script):
    step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == step_id)
    assert script.name in step["run"] and os.access(script, os.X_OK)
    read = set(re.findall(r"\bINPUT_[A-Z_]+", script.read_text(encoding="utf-8")))
    given = {key for key in step["env"] if key.startswith("INPUT_")}
    assert read and read == given
    for key in given:  # INPUT_FAIL_ON comes from inputs.fail-on
        assert step["env"][key] == f"${{{{ inputs.{key[6:].lower().replace('_', '-')} }}}}"


def test_plan_fails_with_annotations_sarif_and_outputs(tmp_path, workspace):
    result = run_action(workspace, tmp_path / "runner", path="plan", sarif_file="out/plan.sarif")
    assert result.returncode == 1, result.stderr
    annotations = [ANNOTATION.match(line) for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations and all(annotations)
    # GitHub resolves file= against the workspace: the audited directory must be part of it
    assert {m.group(2) for m in annotations} >= {"plan/gunicorn.conf.py", "plan/fix-502-complete.sh"}
    assert ("error", "plan/gunicorn.conf.py", "13") in {m.groups() for m in annotations}

    sarif = json.loads((workspace / "out" / "plan.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"][0]["results"]) == len(annotations)
    assert outputs(tmp_path / "runner" / "output") == {"sarif-file": "out/plan.sarif", "exit-code": "1"}
    summary = (tmp_path / "runner" / "summary").read_text(encoding="utf-8")
    assert summary.startswith("### sc-audit: ") and "gunicorn.conf.py:13:1 SC101" in summary


def test_fixed_passes_and_still_writes_sarif(tmp_path, workspace):
    result = run_action(workspace, tmp_path / "runner", path="fixed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith("::")]
    sarif = json.loads((workspace / "sc-audit.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"] == []
    assert outputs(tmp_path / "runner" / "output") == {"sarif-file": "sc-audit.sarif", "exit-code": "0"}


def test_fail_on_decides_the_exit_code(tmp_path):
    workspace = write_repo(tmp_path / "repo", {"deploy.sh": "#!/bin/bash\nnohup python3 app.py > app.log 2>&1 &\n"})
    warned = run_action(workspace, tmp_path / "warning", sarif="false")
    assert warned.returncode == 1 and "::warning file=deploy.sh,line=2" in warned.stdout
    tolerated = run_action(workspace, tmp_path / "error", sarif="false", fail_on="error")
    assert tolerated.returncode == 0 and "::warning file=deploy.sh,line=2" in tolerated.stdout
    assert outputs(tmp_path / "error" / "output") == {"sarif-file": "", "exit-code": "0"}
    assert not (workspace / "sc-audit.sarif").exists()


def test_other_formats_go_to_the_log(tmp_path, workspace):
    result = run_action(workspace, tmp_path / "runner", path="fixed", format="json", sarif="false")
    assert result.returncode == 0
    assert json.loads(result.stdout)["findings"] == []


@pytest.mark.parametrize("inputs, message", [
    ({"path": "no/such/dir"}, "no such file"),
    ({"sarif": "yes"}, "sarif must be true or false"),
    ({"fail_on": "fatal"}, "fatal"),
])
def test_bad_inputs_exit_2_without_a_sarif_file(tmp_path, workspace, inputs, message):
    result = run_action(workspace, tmp_path / "runner", **{"path": "fixed", **inputs})
    assert result.returncode == 2
    assert message in result.stdout + result.stderr and "Traceback" not in result.stderr
    assert outputs(tmp_path / "runner" / "output")["exit-code"] == "2"
    assert not list(workspace.glob("*.sarif*"))


def test_install_then_audit_from_the_actions_checkout(tmp_path, workspace):
    """The whole action minus setup-python: a fresh venv with sc-audit pip-installed from this
    checkout (network for the dependencies), then the audit with that sc-audit."""
    runner = tmp_path / "runner"
    runner.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("INPUT_", "GITHUB_"))}
    env.update({"SC_AUDIT_PYTHON": sys.executable, "INPUT_VERSION": "", "GITHUB_ACTION_PATH": str(REPO),
                "GITHUB_OUTPUT": str(runner / "install"), "RUNNER_TEMP": str(runner)})
    installed = subprocess.run([str(INSTALL_SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    command = Path(outputs(runner / "install")["sc-audit"])
    assert command.is_relative_to(runner) and command.is_file()

    result = subprocess.run([str(RUN_SCRIPT)], capture_output=True, text=True, timeout=120, env={
        **env, "SC_AUDIT": str(command), "GITHUB_WORKSPACE": str(workspace), "INPUT_PATH": "plan",
        "INPUT_SARIF": "false", "GITHUB_OUTPUT": str(runner / "audit")})
    assert result.returncode == 1, result.stderr
    assert "::error file=plan/gunicorn.conf.py,line=13" in result.stdout
    assert outputs(runner / "audit")["exit-code"] == "1"
