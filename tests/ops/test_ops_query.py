"""`invoke events.query`: the same SQL over the S3 analytics store, DuckDB locally and Athena on AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from functions.common.analytics import analytics_objects
from functions.common.envelope import Envelope
from ops.errors import OpsError
from ops.query import format_result, narrowed_sql, producer_filter, query_athena, query_local
from tests.aws_helpers import unique


def stored(s3: Any, bucket: str, events: list[Envelope]) -> None:
    """Put the objects the consumer would write for `events`."""
    for key, (body, _) in analytics_objects("events", events).items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def test_sql_runs_locally_over_the_stores_objects_with_partitions(aws: boto3.Session) -> None:
    # GIVEN two batches of events in the local analytics store, one event delivered in both
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    first = [Envelope(f"e{n}", f'{{"type": "{kind}"}}', f"2026-11-25T19:0{n}:00.000Z") for n, kind in enumerate("abb")]
    stored(s3, bucket, first)
    stored(s3, bucket, [first[2], Envelope("e9", '{"type": "a"}', "2026-11-25T20:00:00.000Z")])
    # WHEN a query groups by a field of the raw event and by hour partition
    result = query_local(
        s3,
        bucket,
        "SELECT hour, json_extract_string(raw, '$.type') AS type, count(*) AS n, count(DISTINCT event_id) AS events "
        "FROM events GROUP BY ALL ORDER BY hour, type",
    )
    # THEN the answer covers every object, the partition columns are there, and the event delivered twice is one
    # row of `events` (issue 32: it counted twice)
    assert result.columns == ["hour", "type", "n", "events"]
    assert result.rows == [["19", "a", 1, 1], ["19", "b", 2, 2], ["20", "a", 1, 1]]
    assert result.notes == ["DuckDB over 3 local objects"]
    # AND `events_raw` shows every line written, the copy too
    raw = query_local(s3, bucket, "SELECT event_id, count(*) AS n FROM events_raw GROUP BY ALL HAVING n > 1")
    assert raw.rows == [["e2", 2]]


def test_a_replayed_copy_is_one_row_and_the_earliest_received_copy_is_kept(aws: boto3.Session) -> None:
    # GIVEN an event stored twice in one hour (identical lines, two objects: a replay), and a key-derived event
    # stored with two metadata (a same-key resend written before this fix, or with S3 alone), in one hour
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    replayed = Envelope("e1", "{}", "2026-11-25T19:00:00.000Z", request_id="r1")
    stored(s3, bucket, [replayed, Envelope("e2", "{}", "2026-11-25T19:10:00.000Z", request_id="r2")])
    stored(s3, bucket, [replayed])
    stored(s3, bucket, [Envelope("e2", "{}", "2026-11-25T19:20:00.000Z", request_id="r3")])
    # WHEN every event is counted through the view
    result = query_local(s3, bucket, "SELECT event_id, request_id FROM events ORDER BY event_id")
    # THEN each is one row, the resent one with its first request's metadata
    assert result.rows == [["e1", "r1"], ["e2", "r2"]]


def test_an_empty_store_answers_and_bad_sql_is_one_line(aws: boto3.Session) -> None:
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    assert query_local(s3, bucket, "SELECT count(*) AS n FROM events").rows == [[0]]
    with pytest.raises(OpsError, match=r"^query failed: .*") as raised:
        query_local(s3, bucket, "SELEKT 1")
    assert "\n" not in str(raised.value)


def test_athena_runs_in_the_workgroup_and_reports_the_scans_cost(aws: boto3.Session) -> None:
    # GIVEN a workgroup (moto's Athena answers SUCCEEDED at once)
    athena = aws.client("athena")
    workgroup = unique("wg")
    athena.create_work_group(Name=workgroup, Configuration={"ResultConfiguration": {"OutputLocation": "s3://r/"}})
    # WHEN a query runs
    result = query_athena(athena, "SELECT 1", "sluice_dev", workgroup, 5.0, sleep=lambda _: None)
    # THEN it ran in that workgroup, and the cost line bills the 10 MB minimum at $5/TB
    [execution] = [
        athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        for query_id in athena.list_query_executions(WorkGroup=workgroup)["QueryExecutionIds"]
    ]
    assert execution["QueryExecutionContext"]["Database"] == "sluice_dev"
    assert result.notes == ["scanned 0.0 MB: $0.000048 at $5/TB (10 MB minimum)"]


def test_results_print_as_an_aligned_table_with_long_values_cut() -> None:
    from ops.query import QueryResult

    lines = format_result(QueryResult(["id", "raw"], [["e1", "x" * 100], ["e22", None]]), max_width=10)
    assert lines == ["id   raw       ", "---  ----------", "e1   xxxxxxxxx…", "e22  NULL      ", "(2 rows)"]


@pytest.mark.parametrize("planted", ["events/../../outside.jsonl.gz", "events/dt=x/../../../outside.jsonl.gz"])
def test_a_planted_key_never_writes_outside_the_scratch_folder(aws: boto3.Session, tmp_path, planted: str) -> None:
    # GIVEN the store holding one event, and an object whose key climbs out of the folder the query copies into
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    stored(s3, bucket, [Envelope("e1", '{"type": "a"}', "2026-11-25T19:00:00.000Z")])
    s3.put_object(Bucket=bucket, Key=planted, Body=b"planted")
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]].count(planted) == 1
    scratch = tmp_path / "work" / "scratch"
    # WHEN a query runs in that scratch folder
    result = query_local(s3, bucket, "SELECT count(*) AS n FROM events", workdir=scratch)
    # THEN nothing was written beside the scratch folder, the query answers over the real object, and says
    # which key it skipped
    assert [path for path in tmp_path.rglob("*") if not path.is_relative_to(scratch) and path.is_file()] == []
    assert result.rows == [[1]]
    assert result.notes[1] == f"skipped 1 object(s) whose key leaves the scratch folder, e.g. {planted!r}"


def test_a_value_cannot_drive_the_terminal_or_fake_the_table() -> None:
    from ops.query import QueryResult

    # GIVEN values holding a terminal escape sequence (set the window title), a line break and a right-to-left
    # override, as an event or a planted object may
    values = [["\x1b]0;pwned\x07", "a\nb", "\u202eevil"]]
    # WHEN printed
    lines = format_result(QueryResult(["x", "y", "z"], values))
    # THEN each is shown as escapes, on its own line of the table
    assert lines[2].split() == ["\\x1b]0;pwned\\x07", "a\\x0ab", "\\u202eevil"]
    assert not any(ord(character) < 0x20 or 0x7F <= ord(character) < 0xA0 for line in lines for character in line)


def test_a_producer_filter_narrows_both_local_views_to_its_key_ids(aws: boto3.Session) -> None:
    s3 = aws.client("s3")
    bucket = unique("analytics")
    s3.create_bucket(Bucket=bucket)
    # GIVEN events of acme (two key generations) and of zeta, one of acme's delivered twice
    acme = [Envelope(f"a{n}", "{}", "2026-11-25T19:00:00.000Z", api_key_id=key) for n, key in enumerate(["k1", "k0"])]
    stored(s3, bucket, [*acme, Envelope("z0", "{}", "2026-11-25T19:00:00.000Z", api_key_id="k9")])
    stored(s3, bucket, [acme[0]])
    where = producer_filter(["k1", "k0"])
    # WHEN the same SQL runs over each view with acme's filter
    rows = query_local(s3, bucket, "SELECT count(*) FROM events", where=where).rows
    raw = query_local(s3, bucket, "SELECT count(*) FROM events_raw", where=where).rows
    # THEN only acme's rows are there: two events, three lines (the copy)
    assert (rows, raw) == ([[2]], [[3]])
    assert where == "api_key_id IN ('k1', 'k0')"


def test_on_athena_the_sql_is_prefixed_with_narrowed_views_of_the_same_names() -> None:
    where = producer_filter(["k'1"])
    # GIVEN a plain SELECT and one with WITH queries of its own
    plain = narrowed_sql("SELECT count(*) FROM events", "db", where)
    with_own = narrowed_sql("with t AS (SELECT 1) SELECT * FROM t, events", "db", where)
    # THEN both read the database's views through WITH queries keeping the producer's rows (quotes doubled)
    views = (
        "events_raw AS (SELECT * FROM \"db\".\"events_raw\" WHERE api_key_id IN ('k''1')), "
        "events AS (SELECT * FROM \"db\".\"events\" WHERE api_key_id IN ('k''1'))"
    )
    assert plain == f"WITH {views} SELECT count(*) FROM events"
    assert with_own == f"WITH {views}, t AS (SELECT 1) SELECT * FROM t, events"
    # AND a recursive query is refused in one line
    with pytest.raises(OpsError, match=r"^--producer: a WITH RECURSIVE query cannot be narrowed"):
        narrowed_sql("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r", "db", where)
