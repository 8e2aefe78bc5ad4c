"""SQLAlchemy 2 models of the yard, in portable SQL: the same schema on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Owner(Base):
    """A user (can log in, holds tokens) or an organisation (has members)."""

    __tablename__ = "owners"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # "user" | "org"
    password_hash: Mapped[str | None] = mapped_column(String(200))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Membership(Base):
    __tablename__ = "memberships"
    org_id: Mapped[int] = mapped_column(
        ForeignKey("owners.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("owners.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), default="member")  # "owner" | "member"


class Token(Base):
    """An API token: only the SHA-256 of its secret is stored."""

    __tablename__ = "tokens"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set for tokens made "for" an organisation: they act only for it.
    org_id: Mapped[int | None] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    user: Mapped[Owner] = relationship(foreign_keys=[user_id])

    @property
    def scope_list(self) -> tuple[str, ...]:
        return tuple(self.scopes.split())


class Label(Base):
    """A named set of files within an owner; ``serial`` grows on every change to that set."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    serial: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Package(Base):
    __tablename__ = "packages"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # PEP 503 normalised
    display_name: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    # A private package is hidden from readers without a read token, whatever its labels.
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("package_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    package_id: Mapped[int] = mapped_column(
        ForeignKey("packages.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(100))  # PEP 440 normalised
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class File(Base):
    """A stored distribution. Immutable: the bytes behind ``sha256`` never change."""

    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("owner_id", "filename"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(8))  # "wheel" | "sdist"
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(400))
    metadata_sha256: Mapped[str | None] = mapped_column(String(64))
    requires_python: Mapped[str | None] = mapped_column(String(200))
    upload_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("owners.id", ondelete="SET NULL"))
    # Derived from the wheel when stored (yard/wheelfacts.py); NULL: not derived yet.
    platform_policy: Mapped[str | None] = mapped_column(String(400))
    grafted_libs: Mapped[str | None] = mapped_column(Text)


class FileLabel(Base):
    """A file carrying a label; yanking (PEP 592) is per label."""

    __tablename__ = "file_labels"
    file_id: Mapped[int] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[int] = mapped_column(
        ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Event(Base):
    """Audit trail of changes that are not visible from the data alone (replacements, removals)."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("owners.id", ondelete="SET NULL"))
    actor: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class PendingRemoval(Base):
    """A single-file delete that takes effect after a delay (the Anaconda client's
    ``DELETE /dist``): until then every label keeps serving the file, and a re-upload of the
    same name within the delay cancels it (see yard/pending.py)."""

    __tablename__ = "pending_removals"
    file_id: Mapped[int] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    actor: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Stage(Base):
    """A staged transfer (Anaconda API): announced, then received, then committed once."""

    __tablename__ = "stages"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the client's dist_id
    secret_hash: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"))
    package: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    basename: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
    labels: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(10), default="staged")  # staged | received
    blob_key: Mapped[str | None] = mapped_column(String(400))
    size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class WebSession(Base):
    """A browser's logged-in session: only the SHA-256 of the cookie's secret is stored, with
    the form token (CSRF) that every form of the session must send back."""

    __tablename__ = "web_sessions"
    secret_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("owners.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class DownloadCount(Base):
    """Downloads of one file through one label (``label_id`` 0: not through a label, e.g. the
    Anaconda API or the all-labels view). Written in batches (yard/downloads.py)."""

    __tablename__ = "download_counts"
    file_id: Mapped[int] = mapped_column(
        ForeignKey("files.id", ondelete="CASCADE"), primary_key=True
    )
    label_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class BuildRecord(Base):
    """What ``wheelyard build`` needs to skip work on an unchanged rerun (each interpreter's
    resolution, the verification record), kept beside the label it published, under a hash
    of every input of the run (yard/buildrecords.py)."""

    __tablename__ = "build_records"
    __table_args__ = (UniqueConstraint("label_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# State that lasts minutes, shared by every serving process and never backed up (backups and
# restores go over Base's tables only): the failed authentications within the throttle's
# window (yard/throttle.py). UNLOGGED on PostgreSQL (migration 0009).
EPHEMERAL = MetaData()

auth_failures = Table(
    "auth_failures",
    EPHEMERAL,
    Column("subject", String(32), nullable=False),  # whose failures: a client or a user name
    Column("credential", String(32), nullable=False),  # the bad credential's fingerprint
    Column("at", Float, nullable=False),  # seconds since the epoch
    Index("ix_auth_failures_subject_at", "subject", "at"),
    Index("ix_auth_failures_at", "at"),
)
