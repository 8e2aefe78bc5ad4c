"""The container e2e tests that read one build (``built``), again with files copied in and out
(``--container-transfer copy``, as GitLab's docker-in-docker needs) instead of bind mounts: the
same build, repair, clean verification, token and clean-up checks, with podman and docker."""

from __future__ import annotations

import pytest

from tests.builder.runners.test_container import (  # the tests, collected here once more
    alias,
    built,
    test_a_package_with_its_own_image_builds_in_its_own_container,
    test_a_verify_image_without_the_manylinux_layout_is_matched_by_version,
    test_a_wheel_without_its_library_fails_in_the_clean_container_not_on_the_host,
    test_built_repaired_grafted_and_verified_in_containers,
    test_containers_are_removed_after_the_run,
    test_forced_policy_fails_clearly_in_the_container,
    test_the_token_never_enters_a_container,
    yard,
)

pytestmark = pytest.mark.e2e

__all__ = [
    "alias",
    "built",
    "test_a_package_with_its_own_image_builds_in_its_own_container",
    "test_a_verify_image_without_the_manylinux_layout_is_matched_by_version",
    "test_a_wheel_without_its_library_fails_in_the_clean_container_not_on_the_host",
    "test_built_repaired_grafted_and_verified_in_containers",
    "test_containers_are_removed_after_the_run",
    "test_forced_policy_fails_clearly_in_the_container",
    "test_the_token_never_enters_a_container",
    "yard",
]


@pytest.fixture(scope="module")
def transfer() -> str:
    return "copy"
