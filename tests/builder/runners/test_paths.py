"""The explicit host ↔ container path map: whole path components only, nested folders folded,
and the way back for what the container reports."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from wheelyard.builder.runners.paths import PathMap


def test_host_paths_are_rewritten_where_they_occur_and_back() -> None:
    paths = PathMap("/wheelyard")
    project = paths.add(Path("/work/project"))
    assert project is not None and project.inside == PurePosixPath("/wheelyard/0-project")
    assert paths.add(Path("/work/project/wheelhouse")) is None  # seen through the project
    paths.add(Path("/tmp/scratch"), inside="/wheelyard/scratch")
    cases = {
        "/work/project": "/wheelyard/0-project",
        "/work/project/wheelhouse/a.whl": "/wheelyard/0-project/wheelhouse/a.whl",
        "--find-links=/work/project/dists": "--find-links=/wheelyard/0-project/dists",
        "file:///work/project/dists/x-1.tar.gz": "file:///wheelyard/0-project/dists/x-1.tar.gz",
        "/tmp/scratch/report.json /work/project": "/wheelyard/scratch/report.json "
        "/wheelyard/0-project",
        # not the same folder: a longer name, or the path inside another path
        "/work/projects/x": "/work/projects/x",
        "/srv/work/project": "/srv/work/project",
        "/opt/python/cp311-cp311/bin/python": "/opt/python/cp311-cp311/bin/python",
    }
    for host, inside in cases.items():
        assert paths.inside(host) == inside
        assert paths.outside(inside) == host


def test_a_folder_holding_mapped_ones_replaces_them() -> None:
    paths = PathMap("/w")
    paths.add(Path("/a/b/wheelhouse"))
    paths.add(Path("/a/b"))
    assert [m.host for m in paths.mounts] == [Path("/a/b")]
    assert paths.covers(Path("/a/b/wheelhouse/x")) and not paths.covers(Path("/a/bc"))
    assert paths.inside("/a/b/wheelhouse/x.whl").endswith("-b/wheelhouse/x.whl")
