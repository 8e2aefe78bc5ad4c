"""Static snapshots of a label: ``wheelyard export`` writes a complete PEP 503/691/658 index
(pages from ``wheelyard.web.render``, the files, their metadata) that any static host serves.

``targets`` writes into a folder or an S3 bucket; ``snapshot`` decides what to write, in which
order, and what to delete, so that a second export only changes what changed; ``manifest``
records what the target holds, so that it need not be listed.

``export --all`` / ``import --from`` back up and restore the whole yard: ``dumpformat`` is the
versioned format, ``backup`` writes it, ``restore`` loads it into an empty yard.
"""
