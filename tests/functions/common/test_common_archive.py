"""The archive object format shared by the archiver and the replay tool."""

import gzip
import json
from datetime import UTC, datetime

import pytest

from functions.common.archive import archive_key, read_archive_lines, write_archive_lines

MOMENT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("prefix", "key"),
    [
        ("dlq", "dlq/year=2026/month=01/day=02/hour=03/ID.jsonl.gz"),
        ("/a/b/", "a/b/year=2026/month=01/day=02/hour=03/ID.jsonl.gz"),
        ("", "year=2026/month=01/day=02/hour=03/ID.jsonl.gz"),
    ],
)
def test_key_is_partitioned_by_utc_hour(prefix: str, key: str) -> None:
    assert archive_key(prefix, MOMENT, "ID") == key


def test_lines_round_trip_through_gzip_json_lines() -> None:
    # GIVEN lines with text that needs escaping
    lines = [{"message_id": "m1", "body": 'a\nb "c" é'}, {"message_id": "m2", "body": None}]

    # WHEN written and read back
    data = write_archive_lines(lines)

    # THEN it is gzip of one JSON object per line, and reads back identical
    assert gzip.decompress(data).decode().count("\n") == 2
    assert read_archive_lines(data) == lines
    assert write_archive_lines(lines) == data  # deterministic bytes


def test_a_line_holding_unicode_line_breaks_is_read_as_one_line() -> None:
    # GIVEN an archive object whose writer left NEL, U+2028 and U+2029 unescaped (JSON allows it; ours escapes)
    lines = [{"message_id": "m1", "body": "a\x85b\u2028c\u2029d"}, {"message_id": "m2", "body": None}]
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    # WHEN it is read
    # THEN one line per "\n", the text unchanged
    assert read_archive_lines(gzip.compress(text.encode("utf-8"))) == lines
