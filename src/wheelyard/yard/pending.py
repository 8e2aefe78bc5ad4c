"""Single-file deletes that wait: what makes the Anaconda client's ``upload --force`` safe.

The client's ``upload --force`` deletes a file (``DELETE /api/dist/…``, the very call
``anaconda remove`` makes) and then uploads it again with only the ``-l`` labels given. The
server cannot tell the two apart, so a single-file delete is recorded and takes effect after
a delay (``WHEELYARD_REMOVAL_DELAY``); until then every label keeps serving the file. What
follows decides:

- nothing within the delay: the file is removed from every label (an explicit remove);
- a re-upload of the same name with the same bytes: the delete is cancelled and the new labels
  are added, so the file ends with the union of its old and new labels;
- a re-upload with different bytes: it replaces the file when no label outside the upload's
  own holds it (as on Anaconda.org); otherwise it is refused (409, naming the labels) and the
  delete is cancelled, so those labels keep serving exactly what they served.

Cancelling and executing both delete the pending row first, in the transaction that acts on
it, so exactly one of them wins.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from wheelyard.db.models import File, Owner, PendingRemoval, utcnow
from wheelyard.db.session import lock_for_write
from wheelyard.db.unit import commit_then_raise
from wheelyard.errors import Conflict
from wheelyard.storage import BlobStore
from wheelyard.yard.events import record
from wheelyard.yard.labels import lock_files
from wheelyard.yard.removal import labels_of_files, refuse_locked, remove_files


def request_removal(
    session: Session, owner: Owner, file: File, actor: str, delay: float
) -> PendingRemoval:
    """Record a delete of ``file`` due after ``delay`` seconds (an earlier request stands)."""
    lock_files(session, [file.id])
    refuse_locked(labels_of_files(session, [file.id]), owner)
    pending = session.get(PendingRemoval, file.id)
    if pending is None:
        pending = PendingRemoval(
            file_id=file.id, actor=actor, due_at=utcnow() + timedelta(seconds=delay)
        )
        session.add(pending)
        detail = f"{file.filename} sha256={file.sha256} due in {delay:g}s"
        record(session, owner, actor, "file-remove-requested", detail)
    return pending


def cancel(session: Session, file_id: int) -> bool:
    """Take back a pending delete of the file; whether there was one (not yet executed)."""
    result = session.execute(delete(PendingRemoval).where(PendingRemoval.file_id == file_id))
    return bool(getattr(result, "rowcount", 0))


def before_reupload(
    session: Session, owner: Owner, filename: str, sha256: str, labels: list[str], actor: str
) -> File | None:
    """Apply the rules above when ``filename`` arrives again for ``labels``.

    Returns the file the upload may replace (different bytes, no other label holds it, its
    delete was pending), or None when the upload proceeds as usual. Raises Conflict, with the
    pending delete cancelled (committed with the refusal: ``commit_then_raise``), when other
    labels hold other bytes.
    """
    lock_for_write(session)
    found = session.scalar(
        select(File).where(File.owner_id == owner.id, File.filename == filename).with_for_update()
    )
    if found is None:
        return None
    if found.sha256 == sha256:
        if cancel(session, found.id):
            detail = f"{filename}: re-uploaded with the same bytes to {' '.join(labels)}"
            record(session, owner, actor, "file-remove-cancelled", detail)
        return None
    if session.get(PendingRemoval, found.id) is None:
        return None  # the ordinary rule applies: a file name is used once
    others = [lb.name for lb in labels_of_files(session, [found.id]) if lb.name not in labels]
    if others:
        cancel(session, found.id)
        detail = f"{filename}: different bytes refused; {', '.join(others)} hold it"
        record(session, owner, actor, "file-remove-cancelled", detail)
        raise commit_then_raise(
            session,
            Conflict(
                f"{filename} is served with other contents by label(s) {', '.join(others)}; "
                "a forced upload never changes what other labels serve. Publish a new version "
                "(or build number), or take the file off those labels first "
                f"(wheelyard label remove / anaconda label --remove); the delete was cancelled"
            ),
        )
    return found


def replace(session: Session, store: BlobStore, owner: Owner, old: File, actor: str) -> None:
    """Remove ``old`` now, as part of replacing it (see ``before_reupload``)."""
    if cancel(session, old.id):
        detail = f"{old.filename} sha256={old.sha256} replaced by a forced upload"
        record(session, owner, actor, "file-replace", detail)
        remove_files(session, store, owner, [old], actor)


def due_removals(session: Session) -> list[tuple[int, str]]:
    """The (file id, actor) of every delete whose delay has passed."""
    due = session.execute(
        select(PendingRemoval.file_id, PendingRemoval.actor).where(
            PendingRemoval.due_at <= utcnow()
        )
    ).all()
    return [(file_id, who or "?") for file_id, who in due]


def execute(session: Session, store: BlobStore, file_id: int, actor: str) -> int:
    """Carry out one due delete (the caller gives each its own unit); how many files went."""
    lock_files(session, [file_id])  # serialises with a re-upload deciding on the same file
    if not cancel(session, file_id):  # a re-upload took it back meanwhile
        return 0
    file = session.get(File, file_id)
    owner = session.get(Owner, file.owner_id) if file is not None else None
    if file is None or owner is None:
        return 0
    if any(lb.locked for lb in labels_of_files(session, [file_id])):
        # Locked since the request: the delete lapses (its row is already taken back).
        detail = f"{file.filename}: a label was locked before the delete was due"
        record(session, owner, actor, "file-remove-cancelled", detail)
        return 0
    return remove_files(session, store, owner, [file], actor)
