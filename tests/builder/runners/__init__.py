"""Tests of the build environments (runners): the path map, the image map, engine detection
and the container runner against a real podman and a locally built manylinux look-alike."""
