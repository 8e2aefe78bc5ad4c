"""CI workflow templates for ``wheelyard ci init``: a push to a branch builds in a container and
publishes to the branch's label; pull/merge requests never publish (see ``templates.py``)."""
