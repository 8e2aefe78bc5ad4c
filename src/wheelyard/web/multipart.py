"""Bounded request-body readers: small bodies read whole up to a cap, and a streaming
``multipart/form-data`` reader whose file part goes straight into a staged file (hashed as it
arrives), so memory stays constant whatever the upload's size.

Every limit is enforced while reading, before the next chunk is taken: a body that breaks one
is refused without being read to its end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from wheelyard.config import Settings
from wheelyard.errors import InvalidInput, TooLarge
from wheelyard.storage.staging import StagedFile

MAX_FIELDS_BYTES = 8 * 1024 * 1024  # all text fields together (descriptions can be long)
MAX_PART_HEADERS = 16 * 1024  # the headers of one part
_FRAMING = 1024 * 1024  # boundaries, part headers and preamble around the parts


def declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length", "").strip()
    if not (value.isascii() and value.isdigit()):  # "\xb2" (latin-1 "²") passes isdigit()
        return None
    # int() refuses more than 4300 digits; more than 19 is beyond every limit anyway.
    return int(value) if len(value) <= 19 else 10**19


async def read_limited(request: Request, limit: int, what: str = "request body") -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise TooLarge(f"{what} of {declared} bytes exceeds the limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"{what} exceeds the limit of {limit} bytes")
    return bytes(body)


@dataclass(frozen=True)
class FormLimits:
    max_parts: int
    max_field: int
    max_file: int

    @classmethod
    def of(cls, settings: Settings) -> FormLimits:
        return cls(settings.max_form_parts, settings.max_form_field, settings.max_upload)

    @property
    def max_body(self) -> int:
        return self.max_file + MAX_FIELDS_BYTES + _FRAMING


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # field name -> client file name

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


FieldHook = Callable[[str, str], None]


class _Reader:
    def __init__(
        self,
        file_fields: set[str],
        staged: StagedFile,
        limits: FormLimits,
        on_field: FieldHook | None,
        before_file: Callable[[], None] | None,
    ) -> None:
        self.form = Form()
        self.file_fields = file_fields
        self.staged = staged
        self.limits = limits
        self.on_field = on_field
        self.before_file = before_file
        self._parts = 0
        self._header_bytes = 0
        self._field_bytes = 0
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._buf = bytearray()
        self._text_bytes = 0

    # python-multipart callbacks
    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self.limits.max_parts:
            raise TooLarge(f"too many parts in the form (limit {self.limits.max_parts})")
        self._headers = {}
        self._buf = bytearray()
        self._is_file = False
        self._header_bytes = 0
        self._field_bytes = 0

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_PART_HEADERS:
            raise TooLarge(f"a form part's headers exceed {MAX_PART_HEADERS} bytes")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _kind, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if filename is not None and self._name in self.file_fields:
            if self.form.files:
                raise InvalidInput("only one file may be uploaded per request")
            if self.before_file is not None:  # e.g. a signature that must precede the bytes
                self.before_file()
            self._is_file = True
            self.form.files[self._name] = filename.decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.staged.write(data[start:end])
            return
        self._text_bytes += end - start
        self._field_bytes += end - start
        if self._field_bytes > self.limits.max_field:
            raise TooLarge(
                f"form field {self._name[:100]!r} exceeds the limit of "
                f"{self.limits.max_field} bytes"
            )
        if self._text_bytes > MAX_FIELDS_BYTES:
            raise TooLarge(f"form fields exceed {MAX_FIELDS_BYTES} bytes in total")
        self._buf += data[start:end]

    def on_part_end(self) -> None:
        if not self._is_file and self._name:
            text = self._buf.decode("utf-8", "replace")
            self.form.fields.setdefault(self._name, []).append(text)
            if self.on_field is not None:
                self.on_field(self._name, text)


async def read_form(
    request: Request,
    staged: StagedFile,
    file_fields: set[str],
    limits: FormLimits,
    on_field: FieldHook | None = None,
    before_file: Callable[[], None] | None = None,
) -> Form:
    """Parse the request body, streaming file parts named in ``file_fields`` into ``staged``.

    ``on_field(name, value)`` sees each text field as soon as it is complete, and
    ``before_file()`` runs when the file part starts: either may raise to stop reading.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInput("expected a multipart/form-data body")
    declared = declared_length(request)
    if declared is not None and declared > limits.max_body:
        raise TooLarge(f"upload of {declared} bytes exceeds the limit of {limits.max_file}")
    staged.limit = limits.max_file
    reader = _Reader(file_fields, staged, limits, on_field, before_file)
    callbacks = {
        name: getattr(reader, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limits.max_body:
                raise TooLarge(f"upload exceeds the limit of {limits.max_file} bytes")
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidInput(f"malformed multipart body: {exc}") from None
    return reader.form
