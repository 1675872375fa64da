"""The alarms added against AWS's recommended alarms (issue 15 §5), evaluated on series as CloudWatch would:
each driven to ALARM by its incident and back to OK, and kept quiet by what it must not mistake for one."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from alarms.definitions import definitions_from_template
from alarms.engine.evaluation import ALARM, OK, MetricAlarm, evaluate_alarm
from alarms.stopped_consumer import stopped_consumer_bound
from core.config import load_config
from synth.synthesize import full_template, synthesize

CONFIG = load_config("local")
PERIOD = CONFIG.monitoring.period_seconds
HISTORY = 30  # periods of series per test


@pytest.fixture(scope="module")
def local_alarms() -> dict[str, MetricAlarm]:
    template = full_template(CONFIG).to_dict()
    definitions = definitions_from_template(template, lambda node: str(node))
    return {d["AlarmName"]: MetricAlarm.from_definition(d) for d in definitions.alarms}


def alarm_of(alarms: Mapping[str, MetricAlarm], row_and_tier: str) -> MetricAlarm:
    return alarms[CONFIG.resource_name(row_and_tier)]


def series(alarm: MetricAlarm, values: Mapping[str, list[float | None]]) -> dict[str, dict[int, float]]:
    """Per query id of the alarm, its metric's values period by period (None: no datapoint); metrics not named
    have no datapoints."""
    by_id: dict[str, dict[int, float]] = {}
    for query_id in alarm.metric_stats():
        given = values.get(query_id, [])
        by_id[query_id] = {step * PERIOD: value for step, value in enumerate(given) if value is not None}
    return by_id


def states(alarm: MetricAlarm, data: Mapping[str, Mapping[int, float]], periods: int) -> list[str | None]:
    """The alarm's state at the end of every period from its first full window on."""
    return [evaluate_alarm(alarm, data, end * PERIOD).state for end in range(alarm.evaluation_periods, periods + 1)]


# --- consumer-stopped --------------------------------------------------------------------------------------


def test_a_stopped_consumer_pages_within_the_derived_bound_and_clears_when_it_polls_again(local_alarms):
    # GIVEN the local consumer-stopped alarm and its bound, derived from the batching window and the timeout
    alarm = alarm_of(local_alarms, "consumer-stopped-high")
    bound = stopped_consumer_bound(CONFIG)
    assert alarm.evaluation_periods == alarm.datapoints_to_alarm == bound.periods
    # WHEN messages are visible from period 10 on and nobody receives any until period 20
    visible = [0.0] * 10 + [5.0] * 10 + [0.0] * 10
    received = [3.0] * 10 + [0.0] * 10 + [5.0] + [0.0] * 9
    data = series(alarm, {"queue_visible": visible, "queue_received": received})
    # THEN it is OK before, in ALARM within the bound, and OK again once messages are received
    timeline = states(alarm, data, HISTORY)
    first = alarm.evaluation_periods
    alarmed_at = (first + timeline.index(ALARM)) * PERIOD
    assert set(timeline[: 10 - first + 1]) == {OK}
    assert alarmed_at - 10 * PERIOD <= bound.page_within_seconds
    assert timeline[-1] == OK


def test_events_retrying_by_design_do_not_look_like_a_stopped_consumer(local_alarms):
    # GIVEN the consumer-stopped alarm
    alarm = alarm_of(local_alarms, "consumer-stopped-high")
    # WHEN the database is down: every event waits on its backoff, invisible, and comes back to be received
    # again, so receives are sparse; visible messages show only in periods where they are also received
    visible = [0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0, 0.0] * 4
    received = [0.0, 0.0, 4.0, 0.0, 0.0, 0.0, 4.0, 0.0] * 4
    data = series(alarm, {"queue_visible": visible, "queue_received": received})
    # THEN it stays OK throughout, as it does on an idle queue (no datapoint at all)
    assert set(states(alarm, data, 32)) == {OK}
    assert set(states(alarm, series(alarm, {}), HISTORY)) == {OK}


def test_synth_prints_the_stopped_consumer_bound(tmp_path):
    # GIVEN the local configuration WHEN the template is synthesized
    summary = synthesize(CONFIG, build_dir=tmp_path).summary()
    # THEN the summary states how soon a stopped consumer pages, from the derived bound
    bound = stopped_consumer_bound(CONFIG)
    assert f"consumer-stopped: pages within {bound.page_within_seconds} s" in summary
    # AND that bound is far shorter than the queue-age page it replaces for this incident (the retry budget)
    assert bound.page_within_seconds < CONFIG.retry_budget_seconds


# --- enqueue-gap-window ------------------------------------------------------------------------------------


def test_loss_in_some_periods_only_trips_the_window_sum_not_the_every_period_gap(local_alarms):
    # GIVEN the per-period enqueue-gap alarm (every period must breach) and the window-sum one
    every = alarm_of(local_alarms, "enqueue-gap-high")
    window = alarm_of(local_alarms, "enqueue-gap-window-high")
    width = window.period
    assert width == PERIOD * CONFIG.monitoring.evaluation_periods and window.evaluation_periods == 1
    # WHEN 20 events are accepted per period and, in one period of the window only, 10 of them never reach the queue
    accepted = [20.0] * 9
    sent = [20.0] * 4 + [10.0] + [20.0] * 4
    per_period = series(every, {"events_accepted": accepted, "queue_sent": sent})
    summed = {
        "accepted_gap_window": {0: sum(accepted[:3]), width: sum(accepted[3:6]), 2 * width: sum(accepted[6:])},
        "sent_gap_window": {0: sum(sent[:3]), width: sum(sent[3:6]), 2 * width: sum(sent[6:])},
        "pointers_sent_gap_window": {},  # no retrier pointers (missing data: FILL 0)
    }
    # THEN the every-period alarm never fires, and the window alarm fires for that window only
    assert set(states(every, per_period, 9)) == {OK}
    assert [evaluate_alarm(window, summed, end * width).state for end in (1, 2, 3)] == [OK, ALARM, OK]


def test_the_window_gap_ignores_edge_noise_and_windows_with_a_handful_of_events(local_alarms):
    # GIVEN the window-sum alarm and the fewest events a window must hold to count
    window = alarm_of(local_alarms, "enqueue-gap-window-high")
    minimum = CONFIG.monitoring.min_requests_per_period * CONFIG.monitoring.evaluation_periods
    # WHEN a busy window differs by less than the threshold (an event in flight at its edge), or a window with a
    # handful of events loses one of them
    none = {"pointers_sent_gap_window": {}}
    edge = {"accepted_gap_window": {0: 1000.0}, "sent_gap_window": {0: 995.0}, **none}
    handful = {"accepted_gap_window": {0: float(minimum - 1)}, "sent_gap_window": {0: float(minimum - 2)}, **none}
    # THEN neither alarms; nor does a window with no events at all
    assert evaluate_alarm(window, edge, window.period).state == OK
    assert evaluate_alarm(window, handful, window.period).state == OK
    assert evaluate_alarm(window, {"accepted_gap_window": {}, "sent_gap_window": {}, **none}, window.period).state == OK


def test_the_retriers_pointers_do_not_hide_lost_events(local_alarms):
    # GIVEN the window-sum gap alarm, a window of 500 accepted events of which 20 never reached the queue, and the
    # retrier's 20 pointers to parked objects sent to the queue in the same window (messages of no accepted event)
    window = alarm_of(local_alarms, "enqueue-gap-window-high")
    lost = {
        "accepted_gap_window": {0: 500.0},
        "sent_gap_window": {0: 480.0 + 20.0},
        "pointers_sent_gap_window": {0: 20.0},
    }
    # WHEN it is evaluated THEN the loss shows: the pointers are not counted as enqueued events
    assert evaluate_alarm(window, lost, window.period).state == ALARM


# --- api-traffic-stopped -----------------------------------------------------------------------------------


def traffic(alarm: MetricAlarm, clients: list[float], canary: float = 1.0) -> dict[str, dict[int, float]]:
    """API Gateway's Count (no datapoint in a period without requests) and the canary's requests, per period."""
    counts = [value + canary for value in clients]
    return series(
        alarm,
        {"api_count": [value or None for value in counts], "canary_requests": [canary or None] * len(clients)},
    )


def test_client_traffic_that_stops_reaches_the_low_tier_and_clears_when_it_returns(local_alarms):
    # GIVEN the low-tier traffic-stopped alarm
    alarm = alarm_of(local_alarms, "api-traffic-stopped-low")
    # WHEN clients send about 30 requests a period, stop for 8 periods (the canary's requests go on), and return
    steady = [30.0, 28.0, 33.0, 31.0, 27.0] * 5
    clients = steady + [0.0] * 8 + [30.0] * 6
    data = traffic(alarm, clients)
    timeline = states(alarm, data, len(clients))
    first = alarm.evaluation_periods
    # THEN it is OK while traffic flows, in ALARM within the stop and for as long as it lasts (the stop does not
    # become the new normal within minutes), and OK once the clients are back
    assert set(timeline[: len(steady) - first + 1]) == {OK}
    during_stop = timeline[len(steady) - first + 1 : len(steady) + 8 - first + 1]
    fired = during_stop.index(ALARM)
    assert set(during_stop[fired:]) == {ALARM}
    assert timeline[-1] == OK


def test_a_deployment_that_never_had_clients_or_a_steady_trickle_stays_quiet(local_alarms):
    # GIVEN the traffic-stopped alarm
    alarm = alarm_of(local_alarms, "api-traffic-stopped-low")
    # WHEN only the canary ever sends (a new deployment), or clients send a steady trickle with its noise
    only_canary = traffic(alarm, [0.0] * HISTORY)
    trickle = traffic(alarm, [10.0, 8.0, 12.0, 9.0, 11.0] * 6)
    # AND when clients start sending at once after a silent history (a burst is not a stop)
    starting = traffic(alarm, [0.0] * 20 + [40.0] * 10)
    # THEN it never alarms
    for data in (only_canary, trickle, starting):
        assert set(states(alarm, data, HISTORY)) == {OK}


# --- consumer-record-failures ------------------------------------------------------------------------------


def test_every_record_failing_reaches_the_low_tier_and_clears_when_records_are_stored(local_alarms):
    # GIVEN the consumer-record-failures alarm, and Lambda's Errors that never count a reported record
    alarm = alarm_of(local_alarms, "consumer-record-failures-low")
    # WHEN 20 records a period are received, every one of them put back for 6 periods (the database down), then
    # none again
    received = [20.0] * 20
    waiting = [0.0] * 8 + [20.0] * 6 + [0.0] * 6
    data = series(alarm, {"records_received": received, "events_waiting_on_retry": waiting})
    timeline = states(alarm, data, 20)
    first = alarm.evaluation_periods
    # THEN it is OK before, in ALARM while they fail, and OK once they are stored again
    assert set(timeline[: 8 - first + 1]) == {OK}
    assert ALARM in timeline[8 - first + 1 : 14 - first + 1]
    assert timeline[-1] == OK


def test_a_few_failing_records_or_a_handful_of_records_do_not_count(local_alarms):
    # GIVEN the consumer-record-failures alarm
    alarm = alarm_of(local_alarms, "consumer-record-failures-low")
    minimum = CONFIG.monitoring.min_requests_per_period
    # WHEN a few records of many fail in every period, or every record fails in periods with fewer than the minimum
    few = series(alarm, {"records_received": [100.0] * 10, "events_waiting_on_retry": [5.0] * 10})
    handful = series(
        alarm, {"records_received": [float(minimum - 1)] * 10, "events_waiting_on_retry": [float(minimum - 1)] * 10}
    )
    # THEN it stays OK
    assert set(states(alarm, few, 10)) == {OK}
    assert set(states(alarm, handful, 10)) == {OK}


# --- pages-undelivered, notifications-undelivered ----------------------------------------------------------


@pytest.mark.parametrize(
    ("row_and_tier", "topic", "told"),
    # undelivered pages reach the low tier's people straight (NotifyTopic), never held by the notifier till morning
    [("pages-undelivered-low", "high", "NotifyTopic"), ("notifications-undelivered-high", "notify", "HighTopic")],
)
def test_undelivered_notifications_are_told_on_the_other_tier_and_clear(local_alarms, row_and_tier, topic, told):
    # GIVEN the alarm on SNS's failed deliveries of a person-facing topic
    alarm = alarm_of(local_alarms, row_and_tier)
    (stat,) = alarm.metric_stats().values()
    assert (stat["Metric"]["MetricName"], stat["Metric"]["Dimensions"]) == (
        "NumberOfNotificationsFailed",
        [{"Name": "TopicName", "Value": CONFIG.resource_name(topic)}],
    )
    # THEN its actions go to the other tier's topic, not to the topic whose deliveries fail
    template = full_template(CONFIG).to_dict()
    (props,) = [
        body["Properties"]
        for body in template["Resources"].values()
        if body["Properties"].get("AlarmName") == CONFIG.resource_name(row_and_tier)
    ]
    assert props["AlarmActions"] == props["OKActions"] == [{"Ref": told}]
    # WHEN one delivery fails in one period, and none after it
    (query_id,) = alarm.metric_stats()
    data = {query_id: {step * PERIOD: (1.0 if step == 5 else 0.0) for step in range(12)}}
    # THEN the first failure alarms, and it returns to OK once the failed period has left the window
    timeline = states(alarm, data, 12)
    assert timeline[: 5 - alarm.evaluation_periods + 1] == [OK] * (5 - alarm.evaluation_periods + 1)
    assert timeline[5 - alarm.evaluation_periods + 1] == ALARM
    assert timeline[-1] == OK


# --- every alert reaches a person: the default prod configuration ------------------------------------------

PROD = load_config("prod")
PROD_PERIOD = PROD.monitoring.period_seconds


@pytest.fixture(scope="module")
def prod_template() -> dict:
    return full_template(PROD).to_dict()


@pytest.fixture(scope="module")
def prod_alarms(prod_template: dict) -> dict[str, MetricAlarm]:
    definitions = definitions_from_template(prod_template, lambda node: str(node))
    return {d["AlarmName"]: MetricAlarm.from_definition(d) for d in definitions.alarms}


def people_on(template: dict, topic: str) -> list[tuple[str, str]]:
    """(logical id, endpoint) of the e-mail and HTTPS subscriptions of a topic."""
    return [
        (logical_id, body["Properties"]["Endpoint"])
        for logical_id, body in template["Resources"].items()
        if body["Type"] == "AWS::SNS::Subscription"
        and body["Properties"]["TopicArn"] == {"Ref": topic}
        and body["Properties"]["Protocol"] in ("email", "https")
    ]


def actions_of(template: dict, alarm_name: str) -> list:
    resources = template["Resources"].values()
    (props,) = [body["Properties"] for body in resources if body["Properties"].get("AlarmName") == alarm_name]
    return props["AlarmActions"]


def fires_on_one_failed_delivery(alarm: MetricAlarm) -> bool:
    """One failed delivery in period 5 of 12: the alarm is in ALARM at the end of that period."""
    (query_id,) = alarm.metric_stats()
    data = {query_id: {step * PROD_PERIOD: (1.0 if step == 5 else 0.0) for step in range(12)}}
    return evaluate_alarm(alarm, data, 6 * PROD_PERIOD).state == ALARM


def test_in_default_prod_the_low_tier_reaches_the_high_tier_people_as_its_fallback(prod_template: dict) -> None:
    # GIVEN the default prod configuration: one on-call address, no low-tier subscriber
    assert PROD.notifications.high_emails and not PROD.notifications.low_emails
    # THEN pages reach the on-call address on the high topic
    assert [endpoint for _, endpoint in people_on(prod_template, "HighTopic")] == list(PROD.notifications.high_emails)
    # AND low-tier notifications, which the notifier (the low topic's one subscriber) forwards to the notify topic,
    # reach the same people there, by subscriptions of their own
    low_subscribers = [
        body["Properties"]
        for body in prod_template["Resources"].values()
        if body["Type"] == "AWS::SNS::Subscription" and body["Properties"]["TopicArn"] == {"Ref": "LowTopic"}
    ]
    assert [(sub["Protocol"], sub["Endpoint"]) for sub in low_subscribers] == [
        ("lambda", {"Fn::GetAtt": ["NotifierFunction", "Arn"]})
    ]
    variables = prod_template["Resources"]["NotifierFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["DESTINATION_TOPIC_ARN"] == {"Ref": "NotifyTopic"}
    assert [endpoint for _, endpoint in people_on(prod_template, "NotifyTopic")] == list(PROD.notifications.high_emails)


def test_undelivered_pages_reach_someone_by_subscriptions_other_than_the_failing_ones(
    prod_template: dict, prod_alarms: dict[str, MetricAlarm]
) -> None:
    # GIVEN pages-undelivered in default prod: it watches the high topic's failed deliveries
    alarm = prod_alarms[PROD.resource_name("pages-undelivered-low")]
    (stat,) = alarm.metric_stats().values()
    assert stat["Metric"]["Dimensions"] == [{"Name": "TopicName", "Value": PROD.resource_name("high")}]
    # THEN it is told to the low tier's people straight, at any hour (the notify topic, not the notifier that holds
    # low-tier notifications overnight), by the notify topic's subscriptions: there are some, and none of them is
    # a subscription of the high topic (the ones whose deliveries fail)
    assert actions_of(prod_template, alarm.name) == [{"Ref": "NotifyTopic"}]
    # AND CloudWatch may publish there (the notify topic's policy; the stack key already lets it encrypt)
    (policy,) = [
        body["Properties"]
        for body in prod_template["Resources"].values()
        if body["Type"] == "AWS::SNS::TopicPolicy" and body["Properties"]["Topics"] == [{"Ref": "NotifyTopic"}]
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": ["cloudwatch.amazonaws.com"]}
    assert statement["Action"] == ["sns:Publish"]
    told = {logical_id for logical_id, _ in people_on(prod_template, "NotifyTopic")}
    assert told and not told & {logical_id for logical_id, _ in people_on(prod_template, "HighTopic")}
    # AND one page SNS could not deliver fires it
    assert fires_on_one_failed_delivery(alarm)


def test_notifications_undelivered_can_fire_in_default_prod(
    prod_template: dict, prod_alarms: dict[str, MetricAlarm]
) -> None:
    # GIVEN notifications-undelivered in default prod: it watches the notify topic's failed deliveries
    alarm = prod_alarms[PROD.resource_name("notifications-undelivered-high")]
    (stat,) = alarm.metric_stats().values()
    assert stat["Metric"]["Dimensions"] == [{"Name": "TopicName", "Value": PROD.resource_name("notify")}]
    # THEN the notify topic has people to fail delivering to (without any, SNS never counts a failure there and
    # the alarm could never fire), and the alarm pages through the high topic
    assert people_on(prod_template, "NotifyTopic")
    assert actions_of(prod_template, alarm.name) == [{"Ref": "HighTopic"}]
    # AND one notification SNS could not deliver fires it
    assert fires_on_one_failed_delivery(alarm)


def test_synth_prints_who_receives_each_tier_in_prod(tmp_path) -> None:
    # GIVEN the default prod configuration WHEN synthesized
    summary = synthesize(PROD, build_dir=tmp_path).summary().splitlines()
    # THEN the summary names who receives each tier, the fallback said as such
    assert "high tier (pages, at once): oncall@example.com" in summary
    assert (
        "low tier (in business hours, Mon,Tue,Wed,Thu,Fri 09:00-17:00 Europe/Berlin; a digest of the rest when they "
        "start): no low-tier subscriber, so the high-tier people as fallback: oncall@example.com"
    ) in summary
