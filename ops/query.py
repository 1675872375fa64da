"""`invoke events.query "SQL"`: SQL over the S3 analytics store, view `events` (columns as in the Glue
table: event_id, received_at, raw, source_ip, user_agent, api_key_id, request_id, trace_id; partitions dt,
hour): one row per event and hour. `events_raw` is every line written, the copies a redelivery or a replay
adds included (cloudformation/analytics.py).

On AWS the query runs in the stack's Athena workgroup, with a progress line and the bytes scanned and what
they cost. Locally the same objects are read from the local S3 into an embedded DuckDB, where `events_raw` and
`events` are views with the same columns and `events` runs the Glue view's own SQL — so the same SQL answers the
same on a laptop without an account.

`--producer NAME` narrows both views to the rows whose api_key_id is one of NAME's key ids (its key and retired
generations): locally the views themselves are filtered; on Athena the SQL is prefixed with WITH queries of the
same names over the database's views, so the same SQL sees only that producer's rows either way.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudformation.analytics import PARTITIONS, RAW_TABLE, TABLE, VIEW_COLUMNS, deduplicated_sql
from functions.common.contract import ANALYTICS_COLUMNS, ANALYTICS_PREFIX, PRODUCER_FIELD
from ops.aws import aws_errors
from ops.errors import OpsError
from ops.progress import Progress
from ops.waiting import WaitTimedOut, wait_until

TB = 1024**4
ATHENA_MINIMUM_BYTES = 10 * 1024**2  # Athena bills at least 10 MB per query
POLL_SECONDS = 1.0
# Athena cancels a DML query at its timeout, which can be raised to 240 minutes at most (Athena's Service
# Quotas page); the queue's wait comes on top.
QUERY_WAIT_SECONDS = 250 * 60
# a value is stored or planted text: control characters (a terminal's escape sequences, line breaks) and
# bidirectional overrides are shown as escapes, so a value can neither drive the terminal nor fake the table
UNPRINTABLE = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)


def producer_filter(key_ids: list[str]) -> str:
    """The SQL condition keeping one producer's rows: `api_key_id IN ('id', …)` (quotes doubled)."""
    if not key_ids:
        raise OpsError("--producer: the producer has no key id")  # keys.key_ids never answers empty
    quoted = ", ".join("'" + key_id.replace("'", "''") + "'" for key_id in key_ids)
    return f"{PRODUCER_FIELD} IN ({quoted})"


def narrowed_sql(sql: str, database: str, where: str) -> str:
    """`sql` with WITH queries named `events_raw` and `events` over the database's own, keeping `where`'s rows;
    a query that starts with WITH keeps its own WITH queries after these.

    This relies on how Athena's engine (Trino) resolves names, which AWS's SELECT page does not spell out: an
    unqualified name is looked up among the WITH queries first, a database-qualified one never (Trino's
    StatementAnalyzer.visitTable). Not yet run on Athena: try `events.query --producer` on dev first."""
    views = ", ".join(f'{name} AS (SELECT * FROM "{database}"."{name}" WHERE {where})' for name in (RAW_TABLE, TABLE))
    stripped = sql.lstrip()
    if re.match(r"(?i)with\s+recursive\b", stripped):
        raise OpsError("--producer: a WITH RECURSIVE query cannot be narrowed; filter on api_key_id yourself")
    if re.match(r"(?i)with\b", stripped):
        return f"WITH {views}, {stripped[4:].lstrip()}"
    return f"WITH {views} {stripped}"


def query_local(
    s3: Any,
    bucket: str,
    sql: str,
    *,
    where: str | None = None,
    workdir: Path | None = None,
    progress_stream: Any = None,
) -> QueryResult:
    """Copy the store's objects out of the local S3 and run `sql` on them with DuckDB; `where` narrows the views."""
    import duckdb  # only the local path needs it

    with tempfile.TemporaryDirectory(prefix="sluice-query-") as scratch:
        root = Path(workdir or scratch).resolve()
        progress = Progress("query: objects read from the local S3", stream=progress_stream)
        outside: list[str] = []
        with aws_errors(f"reading s3://{bucket}/{ANALYTICS_PREFIX}/"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{ANALYTICS_PREFIX}/"):
                for item in page.get("Contents", []):
                    path = scratch_path(root, item["Key"])
                    if path is None:
                        outside.append(item["Key"])
                        continue
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                    progress.update()
        progress.finish()
        connection = duckdb.connect()
        try:
            connection.execute(_raw_view(root, progress.done, where))
            connection.execute(f"CREATE VIEW {TABLE} AS {deduplicated_sql(RAW_TABLE)}")
            cursor = connection.execute(sql)
            columns = [column[0] for column in cursor.description or []]
            rows = [list(row) for row in cursor.fetchall()]
        except duckdb.Error as error:
            raise OpsError(f"query failed: {str(error).splitlines()[0]}") from None
        finally:
            connection.close()
    notes = [f"DuckDB over {progress.done} local objects"]
    if outside:
        notes.append(f"skipped {len(outside)} object(s) whose key leaves the scratch folder, e.g. {outside[0]!r}")
    return QueryResult(columns, rows, notes)


def scratch_path(root: Path, key: str) -> Path | None:
    """Where the object `key` is copied under `root`, or None when the key would put it anywhere else.

    A key is planted text (anyone who can write to the bucket chooses it): `events/../../x`, an absolute or
    empty segment, a NUL byte would write outside the scratch folder or fail there. The consumer's keys
    (`events/dt=…/hour=…/….jsonl.gz`) are plain relative paths."""
    segments = key.split("/")
    if any(segment in ("", ".", "..") or "\x00" in segment for segment in segments):
        return None
    path = root.joinpath(*segments).resolve()
    return path if path.is_relative_to(root) else None


def _raw_view(root: Path, objects: int, where: str | None = None) -> str:
    if not objects:  # read_json refuses an empty glob: an empty view with the same columns answers the same SQL
        nulls = ", ".join(f"NULL::VARCHAR AS {name}" for name in VIEW_COLUMNS)
        return f"CREATE VIEW {RAW_TABLE} AS SELECT {nulls} WHERE false"
    glob = str(root / ANALYTICS_PREFIX / "*" / "*" / "*.jsonl.gz").replace("'", "''")
    return (
        f"CREATE VIEW {RAW_TABLE} AS SELECT * FROM read_json('{glob}', format='newline_delimited', compression='gzip', "
        f"hive_partitioning=true, hive_types={_varchar(PARTITIONS)}, columns={_varchar(ANALYTICS_COLUMNS)})"
        + (f" WHERE {where}" if where else "")
    )


def _varchar(names: tuple[str, ...]) -> str:
    """A DuckDB struct literal typing each named column VARCHAR: {'a': 'VARCHAR', ...}."""
    return "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in names) + "}"


def query_athena(
    athena: Any,
    sql: str,
    database: str,
    workgroup: str,
    usd_per_tb: float,
    *,
    where: str | None = None,
    progress_stream: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> QueryResult:
    """Run `sql` in the workgroup, waiting with a progress line; the result and the scan's cost. `where` narrows
    the views (`narrowed_sql`)."""
    if where:
        sql = narrowed_sql(sql, database, where)
    with aws_errors(f"starting the query in Athena workgroup {workgroup}"):
        query_id = athena.start_query_execution(
            QueryString=sql, WorkGroup=workgroup, QueryExecutionContext={"Database": database}
        )["QueryExecutionId"]
    shown_id = printable(query_id)  # the service's answer, shown in every line below
    progress = Progress(f"query {shown_id}: seconds", stream=progress_stream)

    def execution() -> dict[str, Any]:
        with aws_errors(f"reading query {shown_id}"):
            found: dict[str, Any] = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        if not ended(found):
            scanned = int(found.get("Statistics", {}).get("DataScannedInBytes", 0))
            progress.update(1, note=f"{found['Status']['State']}, {scanned / 1024**2:.1f} MB scanned")
        return found

    def ended(found: dict[str, Any]) -> bool:
        return found["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED")

    try:
        final = wait_until(
            execution, ended, timeout=QUERY_WAIT_SECONDS, interval=POLL_SECONDS, what=f"query {shown_id}", sleep=sleep
        )
    except WaitTimedOut as timed_out:
        still = printable(timed_out.last["Status"]["State"])
        progress.finish(note=still)
        raise OpsError(
            f"query {shown_id} still {still} after {QUERY_WAIT_SECONDS / 60:.0f} min; follow it in the Athena console"
        ) from None
    state = final["Status"]["State"]
    scanned = int(final.get("Statistics", {}).get("DataScannedInBytes", 0))
    progress.finish(note=state)
    if state != "SUCCEEDED":
        reason = final["Status"].get("StateChangeReason", "no reason given")
        raise OpsError(f"query {printable(state.lower())}: {printable(reason)}")
    columns: list[str] = []
    rows: list[list[Any]] = []
    with aws_errors(f"reading the results of query {shown_id}"):
        for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
            result = page["ResultSet"]
            columns = columns or [column["Name"] for column in result["ResultSetMetadata"]["ColumnInfo"]]
            for row in result["Rows"]:
                values = [datum.get("VarCharValue") for datum in row["Data"]]
                if values != columns:  # a SELECT's first row repeats the column names
                    rows.append(values)
    billed = max(scanned, ATHENA_MINIMUM_BYTES)
    note = (
        f"scanned {scanned / 1024**2:,.1f} MB: ${billed / TB * usd_per_tb:,.6f} at ${usd_per_tb:g}/TB (10 MB minimum)"
    )
    return QueryResult(columns, rows, [note])


def printable(text: str) -> str:
    """`text` with its control characters and bidirectional overrides as escapes (`\\x1b`, `\\u202e`)."""
    return text.translate(UNPRINTABLE)


def format_result(result: QueryResult, max_width: int = 60) -> list[str]:
    """An aligned text table; long values (raw events) are cut with an ellipsis, control characters escaped."""

    def text(value: Any) -> str:
        shown = "NULL" if value is None else printable(str(value))
        return shown if len(shown) <= max_width else shown[: max_width - 1] + "…"

    names = [printable(name) for name in result.columns]
    cells = [[text(value) for value in row] for row in result.rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(names)]
    lines = ["  ".join(name.ljust(width) for name, width in zip(names, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) for row in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return lines
