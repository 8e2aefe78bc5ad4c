"""Streaming ``multipart/form-data`` reader: the file part goes straight into a staged file
(hashed as it arrives), so memory stays constant whatever the upload's size."""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from wheelyard.storage.staging import StagedFile
from wheelyard.yard.errors import InvalidInput

MAX_FIELDS_BYTES = 32 * 1024 * 1024  # descriptions can be long, but not unbounded


@dataclass
class Form:
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # field name -> client file name

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[0] if values else None


class _Reader:
    def __init__(self, file_fields: set[str], staged: StagedFile) -> None:
        self.form = Form()
        self.file_fields = file_fields
        self.staged = staged
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._is_file = False
        self._buf = bytearray()
        self._text_bytes = 0

    # python-multipart callbacks
    def on_part_begin(self) -> None:
        self._headers = {}
        self._buf = bytearray()
        self._is_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
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
            self._is_file = True
            self.form.files[self._name] = filename.decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.staged.write(data[start:end])
            return
        self._text_bytes += end - start
        if self._text_bytes > MAX_FIELDS_BYTES:
            raise InvalidInput("form fields are too large")
        self._buf += data[start:end]

    def on_part_end(self) -> None:
        if not self._is_file and self._name:
            text = self._buf.decode("utf-8", "replace")
            self.form.fields.setdefault(self._name, []).append(text)


async def read_form(request: Request, staged: StagedFile, file_fields: set[str]) -> Form:
    """Parse the request body, streaming file parts named in ``file_fields`` into ``staged``."""
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInput("expected a multipart/form-data body")
    reader = _Reader(file_fields, staged)
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
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidInput(f"malformed multipart body: {exc}") from None
    return reader.form
