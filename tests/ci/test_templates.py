"""The generated CI workflows: valid by the published GitHub Actions, GitLab CI and Travis
schemas (check-jsonschema's built-in copies, offline), and safe by construction — only a push
to a branch uploads, pull/merge requests never see the token, the token is only an environment
variable filled from the CI's secret store."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from wheelyard.ci.templates import SERVICES, render, write
from wheelyard.cli.main import build_parser
from wheelyard.errors import Conflict, InvalidInput

SCHEMAS = {
    "github": "vendor.github-workflows",
    "gitlab": "vendor.gitlab-ci",
    "travis": "vendor.travis",
}
MODES = ("skip", "build")


def _parsed(service: str, mode: str, folder: str = ".") -> Any:
    return yaml.safe_load(render(service, mode, folder))  # type: ignore[arg-type]


def _check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_variant_is_valid_by_the_published_schema(service: str, tmp_path: Path) -> None:
    files = []
    for mode in MODES:
        for folder in (".", "deps/linux"):
            root = tmp_path / f"{mode}-{folder.replace('/', '-')}"
            root.mkdir()
            files.append(write(service, root, render(service, mode, folder)))  # type: ignore[arg-type]
    result = _check_jsonschema(SCHEMAS[service], *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validation done" in result.stdout


@pytest.mark.parametrize(
    ("service", "breakage"),
    [
        ("github", ("runs-on: ubuntu-latest", "runs-on: [[1]]")),
        ("gitlab", ("when: never", "when: sometimes")),
        ("travis", ("dist: jammy", "dist: [jammy]")),
    ],
)
def test_the_schema_check_rejects_a_broken_file(
    service: str, breakage: tuple[str, str], tmp_path: Path
) -> None:
    # The validation above is not vacuous: the same check refuses a file one edit away.
    text = render(service, "build")
    assert breakage[0] in text
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace(breakage[0], breakage[1]))
    assert _check_jsonschema(SCHEMAS[service], broken).returncode == 1


def _commands(service: str, mode: str) -> list[str]:
    """Every shell line of the workflow."""
    data = _parsed(service, mode)
    if service == "github":
        return [s["run"] for s in data["jobs"]["wheels"]["steps"] if "run" in s]
    if service == "gitlab":
        jobs = [v for v in data.values() if isinstance(v, dict) and "script" in v]
        hidden = data[".wheelyard"]["before_script"]
        return [*hidden, *(line for j in jobs for line in j["script"])]
    jobs = data["jobs"]["include"]
    return [line for j in jobs for line in (*j["install"], *j["script"])]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_token_is_never_on_a_command_line(service: str, mode: str) -> None:
    lines = _commands(service, mode)
    assert any("wheelyard build --container --upload" in line for line in lines)
    for line in lines:
        assert "TOKEN" not in line or line.startswith("unset "), line
        assert "secrets." not in line and "--token" not in line, line


def test_github_uploads_only_on_a_push_to_a_branch() -> None:
    for mode in MODES:
        data = _parsed("github", mode)
        triggers = data[True]  # YAML 1.1 reads the key `on` as True
        assert triggers["push"] == {"branches": ["**"]}
        assert "pull_request_target" not in triggers and "workflow_run" not in triggers
        assert ("pull_request" in triggers) is (mode == "build")
        assert data["permissions"] == {"contents": "read"}
        steps = data["jobs"]["wheels"]["steps"]
        upload = [s for s in steps if "--upload" in s.get("run", "")]
        assert len(upload) == 1
        assert upload[0]["if"] == (
            "github.event_name == 'push' && startsWith(github.ref, 'refs/heads/')"
        )
        assert upload[0]["run"].startswith("exec wheelyard build --container --upload")
        assert upload[0]["env"] == {
            name: "${{ secrets." + name + " }}"
            for name in ("WHEELYARD_URL", "WHEELYARD_OWNER", "WHEELYARD_TOKEN")
        }
        # No other step is given a secret (the pull request step runs without any).
        text = render("github", mode)  # type: ignore[arg-type]
        assert text.count("secrets.") == 3
        others = [s for s in steps if s is not upload[0]]
        assert not any("secrets" in repr(s) for s in others)
        pr = [s for s in steps if s.get("if") == "github.event_name == 'pull_request'"]
        if mode == "build":
            assert len(pr) == 1 and pr[0]["run"].startswith("wheelyard build --container")
            assert "--upload" not in pr[0]["run"] and "env" not in pr[0]
        else:
            assert pr == []


def test_gitlab_never_publishes_from_a_merge_request() -> None:
    for mode in MODES:
        data = _parsed("gitlab", mode)
        publish = data["wheelyard:publish"]
        assert publish["rules"] == [
            {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"},
            {"if": "$CI_COMMIT_BRANCH"},  # branch pipelines only: not tags, not MRs
        ]
        uploaders = [
            name
            for name, job in data.items()
            if isinstance(job, dict) and any("--upload" in line for line in job.get("script", []))
        ]
        assert uploaders == ["wheelyard:publish"]
        mr = data.get("wheelyard:merge-request")
        if mode == "skip":
            assert mr is None
            continue
        assert mr["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
        # The project's variables reach same-project MR pipelines: they are dropped first.
        assert mr["script"][0] == "unset WHEELYARD_TOKEN WHEELYARD_URL WHEELYARD_OWNER"
        assert mr["script"][1].startswith("wheelyard build --container")


def test_travis_publishes_only_from_branch_pushes() -> None:
    for mode in MODES:
        jobs = _parsed("travis", mode)["jobs"]["include"]
        upload = [j for j in jobs if any("--upload" in line for line in j["script"])]
        assert len(upload) == 1
        assert upload[0]["if"] == "type = push AND tag IS blank"
        # Travis runs every script line even after one failed: the guard is on the same line.
        (line,) = [x for x in upload[0]["script"] if "--upload" in x]
        assert line.startswith('test "$TRAVIS_PULL_REQUEST" = false && wheelyard build')
        prs = [j for j in jobs if j is not upload[0]]
        if mode == "skip":
            assert prs == []
            continue
        (pr,) = prs
        assert pr["if"] == "type = pull_request"
        assert pr["script"][0] == "unset WHEELYARD_TOKEN WHEELYARD_URL WHEELYARD_OWNER"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_commands_are_ones_wheelyard_build_accepts(service: str) -> None:
    parser = build_parser()
    builds = [
        line[line.index("wheelyard build") :]
        for line in _commands(service, "build")
        if "wheelyard build" in line
    ]
    assert len(builds) == 2
    for line in builds:
        args = parser.parse_args(shlex.split(line)[1:])
        assert args.command == "build" and args.report == "wheelyard-report.json"
        assert args.upload is ("--upload" in line)


def test_folder_and_install_are_carried_and_checked() -> None:
    text = render("github", "skip", "deps/linux", "-i https://h/alice/simple wheelyard==1.0")
    assert "run: python -m pip install -i https://h/alice/simple wheelyard==1.0\n" in text
    assert "--report wheelyard-report.json deps/linux\n" in text
    assert "deps/linux/wheelhouse/logs/" in text
    for folder in ("../up", "/abs", "a b", "x: y", "$(rm -rf /)"):
        with pytest.raises(InvalidInput, match="--folder"):
            render("gitlab", "skip", folder)
    for install in ("x: y", "'unclosed", "", "a:", "x\t#y"):
        with pytest.raises(InvalidInput, match="--install"):
            render("travis", "skip", ".", install)
    assert not re.search(r"@[A-Z_]+@", render("gitlab", "build", "deps"))


def test_write_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = write("travis", tmp_path, "first\n")
    assert target == tmp_path / ".travis.yml"
    with pytest.raises(Conflict, match="exists: pass --force"):
        write("travis", tmp_path, "second\n")
    assert target.read_text() == "first\n"
    write("travis", tmp_path, "second\n", force=True)
    assert target.read_text() == "second\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".travis.yml"]  # no temp file left


def test_gitlab_copies_files_into_docker_in_docker() -> None:
    """The dind daemon cannot see the job's folders: the template asks for copies, and the
    DOCKER_HOST it sets would make ``auto`` choose them too."""
    from wheelyard.builder.runners.engines import Engine
    from wheelyard.builder.runners.transfer import choose
    from wheelyard.builder.settings import load

    for mode in MODES:
        variables = _parsed("gitlab", mode)["variables"]
        assert variables["WHEELYARD_CONTAINER_TRANSFER"] == "copy"
        assert variables["DOCKER_HOST"].startswith("tcp://docker:")
        assert load(Path("/nonexistent"), {}, environ=variables).container_transfer == "copy"
        dind = Engine("docker", "/usr/bin/docker", variables)
        assert choose("auto", dind) == "copy"
