"""The DLQ archive format: one gzip JSON Lines object per archived batch.

Each line: message_id, body (the original message body string), receive_count, sent_timestamp,
first_receive_timestamp (epoch milliseconds as ints, null when unknown), archived_at (UTC ISO 8601),
event_id (from the envelope, null when the body is not an envelope) and reason (why the consumer
dead-lettered it at once, e.g. "not a Sluice envelope: body is not JSON"; null when the redrive policy moved it
after the retry window).
"""

import gzip
import json
from datetime import datetime
from typing import Any

from functions.common.jsontext import loads

ARCHIVE_PREFIX = "dlq"  # where the archiver writes in the archive bucket (parked events live beside it: parked.py)


def archive_key(prefix: str, moment: datetime, object_id: str) -> str:
    """`{prefix}/year=YYYY/month=MM/day=DD/hour=HH/{object_id}.jsonl.gz`, partitioned by UTC time."""
    partition = moment.strftime("year=%Y/month=%m/day=%d/hour=%H")
    return "/".join(part for part in (prefix.strip("/"), partition, f"{object_id}.jsonl.gz") if part)


def write_archive_lines(lines: list[dict[str, Any]]) -> bytes:
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    # mtime=0 keeps the object bytes a pure function of its lines.
    return gzip.compress(text.encode("utf-8"), mtime=0)


def read_archive_lines(data: bytes) -> list[dict[str, Any]]:
    """The lines of an archive object, in order; ValueError (or OSError, EOFError) when it is not an archive."""
    text = gzip.decompress(data).decode("utf-8")
    # "\n" only: str.splitlines() also splits at NEL, U+2028 and U+2029, which JSON may leave unescaped.
    return [loads(line) for line in text.split("\n") if line]
