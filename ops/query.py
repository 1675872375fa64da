"""`invoke events.query "SQL"`: SQL over the S3 analytics store, view `events` (columns as in the Glue
table: event_id, received_at, raw, source_ip, user_agent, api_key_id, request_id, trace_id; partitions dt,
hour): one row per event and hour. `events_raw` is every line written, the copies a redelivery or a replay
adds included (cloudformation/analytics.py).

On AWS the query runs in the stack's Athena workgroup, with a progress line and the bytes scanned and what
they cost. Locally the same objects are read from the local S3 into an embedded DuckDB, where `events_raw` and
`events` are views with the same columns and `events` runs the Glue view's own SQL — so the same SQL answers the
same on a laptop without an account.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudformation.analytics import RAW_TABLE, TABLE, deduplicated_sql
from ops.aws import aws_errors
from ops.errors import OpsError
from ops.progress import Progress

PREFIX = "events"  # cloudformation/analytics.py PREFIX, the consumer's ANALYTICS_PREFIX
COLUMNS = ("event_id", "received_at", "raw", "source_ip", "user_agent", "api_key_id", "request_id", "trace_id")
TB = 1024**4
ATHENA_MINIMUM_BYTES = 10 * 1024**2  # Athena bills at least 10 MB per query
POLL_SECONDS = 1.0


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)


def query_local(
    s3: Any, bucket: str, sql: str, *, workdir: Path | None = None, progress_stream: Any = None
) -> QueryResult:
    """Copy the store's objects out of the local S3 and run `sql` on them with DuckDB."""
    import duckdb  # only the local path needs it

    with tempfile.TemporaryDirectory(prefix="sluice-query-") as scratch:
        root = Path(workdir or scratch)
        progress = Progress("query: objects read from the local S3", stream=progress_stream)
        with aws_errors(f"reading s3://{bucket}/{PREFIX}/"):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{PREFIX}/"):
                for item in page.get("Contents", []):
                    path = root / item["Key"]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                    progress.update()
        progress.finish()
        connection = duckdb.connect()
        try:
            connection.execute(_raw_view(root, progress.done))
            connection.execute(f"CREATE VIEW {TABLE} AS {deduplicated_sql(RAW_TABLE)}")
            cursor = connection.execute(sql)
            columns = [column[0] for column in cursor.description or []]
            rows = [list(row) for row in cursor.fetchall()]
        except duckdb.Error as error:
            raise OpsError(f"query failed: {str(error).splitlines()[0]}") from None
        finally:
            connection.close()
    return QueryResult(columns, rows, [f"DuckDB over {progress.done} local objects"])


def _raw_view(root: Path, objects: int) -> str:
    if not objects:  # read_json refuses an empty glob: an empty view with the same columns answers the same SQL
        nulls = ", ".join(f"NULL::VARCHAR AS {name}" for name in (*COLUMNS, "dt", "hour"))
        return f"CREATE VIEW {RAW_TABLE} AS SELECT {nulls} WHERE false"
    glob = str(root / PREFIX / "*" / "*" / "*.jsonl.gz").replace("'", "''")
    types = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in COLUMNS) + "}"
    return (
        f"CREATE VIEW {RAW_TABLE} AS SELECT * FROM read_json('{glob}', format='newline_delimited', compression='gzip', "
        f"hive_partitioning=true, hive_types={{'dt': 'VARCHAR', 'hour': 'VARCHAR'}}, columns={types})"
    )


def query_athena(
    athena: Any,
    sql: str,
    database: str,
    workgroup: str,
    usd_per_tb: float,
    *,
    progress_stream: Any = None,
    sleep: Callable[[float], None] = time.sleep,
) -> QueryResult:
    """Run `sql` in the workgroup, waiting with a progress line; the result and the scan's cost."""
    with aws_errors(f"starting the query in Athena workgroup {workgroup}"):
        query_id = athena.start_query_execution(
            QueryString=sql, WorkGroup=workgroup, QueryExecutionContext={"Database": database}
        )["QueryExecutionId"]
    progress = Progress(f"query {query_id}: seconds", stream=progress_stream)
    while True:
        with aws_errors(f"reading query {query_id}"):
            execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        sleep(POLL_SECONDS)
        progress.update(1, note=f"{state}, {scanned / 1024**2:.1f} MB scanned")
    progress.finish(note=state)
    if state != "SUCCEEDED":
        reason = execution["Status"].get("StateChangeReason", "no reason given")
        raise OpsError(f"query {state.lower()}: {reason}")
    columns: list[str] = []
    rows: list[list[Any]] = []
    with aws_errors(f"reading the results of query {query_id}"):
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


def format_result(result: QueryResult, max_width: int = 60) -> list[str]:
    """An aligned text table; long values (raw events) are cut with an ellipsis."""

    def text(value: Any) -> str:
        shown = "NULL" if value is None else str(value)
        return shown if len(shown) <= max_width else shown[: max_width - 1] + "…"

    cells = [[text(value) for value in row] for row in result.rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(result.columns)]
    lines = ["  ".join(name.ljust(width) for name, width in zip(result.columns, widths, strict=True))]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)) for row in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return lines
