"""`invoke send`: JSON Lines → `POST {ApiUrl}/events`, up to 500 events per request, with a final tally.

Each request carries an `Idempotency-Key` derived from its content (the batch's first line number and its
body), so neither a retry after a timeout or a 503 nor a second run of the same file with the same `--batch`
can store an event twice: the API derives event ids from (API key, Idempotency-Key, the batch's events, index in
the batch).
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import requests

from functions.common.jsontext import loads
from ops.errors import OpsError
from ops.progress import Progress, counted
from ops.textfile import read_text

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
MAX_RETRY_AFTER_SECONDS = 20.0
TIMEOUT = (5.0, 35.0)  # connect, read: API Gateway itself gives up after 29 s
LINES_SHOWN_PER_REASON = 5
SILENT_BATCHES_TO_STOP = 2  # batches in a row without any HTTP answer, after all their retries


@dataclass(frozen=True)
class Event:
    line: int
    text: str  # the event's JSON text exactly as in the file: the API stores it as sent

    @property
    def size(self) -> int:
        return len(self.text.encode())


@dataclass
class SendResult:
    accepted_ids: list[str] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_lines: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    requests: int = 0

    @property
    def accepted(self) -> int:
        return len(self.accepted_ids)

    def reject(self, reason: str, events: Iterable[Event]) -> None:
        for event in events:
            self.rejected[reason] += 1
            self.rejected_lines[reason].append(event.line)

    def summary(self) -> list[str]:
        total = self.accepted + sum(self.rejected.values())
        lines = [f"accepted {self.accepted} of {counted(total, 'event')} in {counted(self.requests, 'request')}"]
        if self.rejected:
            lines.append(f"rejected {sum(self.rejected.values())}:")
            for reason, count in self.rejected.most_common():
                shown = self.rejected_lines[reason][:LINES_SHOWN_PER_REASON]
                more = ", …" if count > len(shown) else ""
                lines.append(f"  {reason}: {count} (lines {', '.join(map(str, shown))}{more})")
        return lines


def read_events(source: str, stdin: TextIO = sys.stdin) -> list[Event]:
    """The events of a JSON Lines file (or `-` for stdin); blank lines are skipped, anything else must be an
    object. A bad line stops everything before a single event is sent."""
    name = "stdin" if source == "-" else source
    text = read_text(name, "a JSON Lines file", stdin.read if source == "-" else None)
    events = []
    # A line ends at "\n" only: str.splitlines() also splits at NEL, U+2028 and U+2029, legal inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            value = loads(stripped)
        except ValueError as error:
            raise OpsError(f"{name}:{number}: not valid JSON ({error.args[0].split(':')[0]})") from None
        if not isinstance(value, dict):
            raise OpsError(f"{name}:{number}: expected a JSON object, got {type(value).__name__}")
        events.append(Event(number, stripped))
    if not events:
        raise OpsError(f"{name}: no events (expected one JSON object per line)")
    return events


def batches(events: Iterable[Event], max_events: int, max_body_bytes: int) -> Iterator[list[Event]]:
    """Runs of at most `max_events` whose JSON array body stays within `max_body_bytes`."""
    batch: list[Event] = []
    size = 2  # the brackets
    for event in events:
        added = event.size + (1 if batch else 0)
        if batch and (len(batch) == max_events or size + added > max_body_bytes):
            yield batch
            batch, size, added = [], 2, event.size
        batch.append(event)
        size += added
    if batch:
        yield batch


def body_of(batch: list[Event]) -> bytes:
    return ("[" + ",".join(event.text for event in batch) + "]").encode()


def idempotency_key(batch: list[Event]) -> str:
    """The same key for the same batch of the same file, run after run. The first line number keeps two
    identical batches of one file (the same event sent 1,000 times on purpose) apart."""
    digest = hashlib.sha256(f"{batch[0].line}:".encode() + body_of(batch)).hexdigest()
    return f"send-{digest}"


def _reason(status: int, response: requests.Response | None) -> str:
    """`413 event_too_large`: the status and the API's error code (or API Gateway's own message)."""
    detail = ""
    if response is not None:
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            detail = str(data.get("error") or data.get("message") or "")
    return f"{status} {detail}".strip()


def _retry_delay(response: requests.Response | None, attempt: int) -> float:
    header = response.headers.get("Retry-After") if response is not None else None
    if header and header.isdigit():
        return min(float(header), MAX_RETRY_AFTER_SECONDS)
    return min(0.5 * 2**attempt, 10.0)


class Sender:
    def __init__(
        self,
        api_url: str,
        api_key: str,
        *,
        http: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.url = api_url.rstrip("/") + "/events"
        self.api_key = api_key
        self.http = http or requests.Session()
        self.sleep = sleep
        self.max_attempts = max_attempts

    def send_batch(self, batch: list[Event], result: SendResult) -> bool:
        """Send one batch (retrying throttles, 5xx and timeouts); False when the API never answered."""
        headers = {
            "Content-Type": "application/json",
            "x-api-key": self.api_key,
            "Idempotency-Key": idempotency_key(batch),  # the same for every retry and every re-run
        }
        body = body_of(batch)
        response: requests.Response | None = None
        reason = ""
        for attempt in range(self.max_attempts):
            result.requests += 1
            try:
                response = self.http.post(self.url, data=body, headers=headers, timeout=TIMEOUT)
            except requests.RequestException as error:
                response, reason = None, f"no response ({type(error).__name__})"
            else:
                if response.status_code not in RETRIED_STATUSES:
                    break
                reason = _reason(response.status_code, response)
            if attempt + 1 < self.max_attempts:
                self.sleep(_retry_delay(response, attempt))
        self._record(batch, response, reason, result)
        return response is not None

    def _record(self, batch: list[Event], response: requests.Response | None, reason: str, result: SendResult) -> None:
        if response is None:
            result.reject(reason, batch)
            return
        try:
            data = response.json()
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        listed = data.get("ids")
        ids: list[Any] = listed if isinstance(listed, list) else []
        if response.status_code == 202 and len(ids) == len(batch):
            result.accepted_ids.extend(str(event_id) for event_id in ids)
            return
        if data.get("error") == "partially_accepted":
            # Accepted ids come in body order for the events NOT listed in `failed`.
            failed = {item.get("index") for item in data.get("failed", []) if isinstance(item, dict)}
            result.accepted_ids.extend(str(event_id) for event_id in ids)
            result.reject(_reason(response.status_code, response), [e for i, e in enumerate(batch) if i in failed])
            return
        result.reject(_reason(response.status_code, response) or reason, batch)


def send_events(
    events: list[Event],
    sender: Sender,
    *,
    max_events: int,
    max_body_bytes: int,
    max_event_bytes: int,
    progress: Progress | None = None,
) -> SendResult:
    """Send every event; an event over the API's size limit is refused here so it cannot sink its batch."""
    result = SendResult()
    too_large = [event for event in events if event.size > max_event_bytes]
    result.reject(f"event_too_large (over {max_event_bytes} bytes; not sent)", too_large)
    sendable = [event for event in events if event.size <= max_event_bytes]
    progress = progress or Progress("send", total=len(events), stream=None)
    progress.update(len(too_large))
    silent = 0
    for batch in batches(sendable, max_events, max_body_bytes):
        if silent >= SILENT_BATCHES_TO_STOP:
            # An API that does not answer at all will not start answering for the next batch either.
            result.reject("not sent: the API stopped answering", batch)
        else:
            silent = 0 if sender.send_batch(batch, result) else silent + 1
        progress.update(len(batch), note=f"({result.accepted} accepted)")
    progress.finish(note=f"({result.accepted} accepted)")
    return result


def write_ids(path: str, ids: Iterable[str]) -> None:
    try:
        Path(path).write_text("".join(f"{event_id}\n" for event_id in ids), encoding="utf-8")
    except OSError as error:
        raise OpsError(f"{path}: cannot write the accepted ids ({error.strerror})") from None
