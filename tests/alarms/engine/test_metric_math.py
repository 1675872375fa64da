"""The metric-math subset computed locally (moto evaluates none)."""

import pytest

from alarms.engine.metric_math import Band, MathError, anomaly_band, evaluate, referenced_ids


def test_arithmetic_keeps_common_timestamps_and_drops_division_by_zero():
    series = {"e": {0: 5.0, 10: 0.0, 20: 1.0}, "c": {0: 100.0, 10: 0.0}}
    assert evaluate("100 * e / c", series, [0, 10, 20], 10) == {0: 5.0}


def test_fill_gives_every_period_a_value():
    series = {"a": {10: 3.0}, "b": {0: 1.0}}
    assert evaluate("FILL(a, 0) - FILL(b, 0)", series, [0, 10, 20], 10) == {0: -1.0, 10: 3.0, 20: 0.0}


def test_precedence_parentheses_and_unary_minus():
    series = {"a": {0: 2.0}}
    assert evaluate("-a + 3 * (a - 1) / 2", series, [0], 10) == {0: -0.5}
    assert evaluate("a / 60", series, [0], 10) == {0: 2.0 / 60}


def test_anomaly_band_from_history_with_a_floor():
    # GIVEN a constant history of 100 THEN the band is 100 ± k·√100 (the count-noise floor)
    history = {t: 100.0 for t in range(0, 200, 10)}
    band = evaluate("ANOMALY_DETECTION_BAND(m, 2)", {"m": history}, [200], 10)
    assert band == Band({200: (80.0, 120.0)})
    # AND without enough history there is no band
    assert anomaly_band({0: 1.0}, [10], 10, 2.0) == Band({})


def test_referenced_ids_and_errors():
    assert referenced_ids("FILL(x, 0) + y / 60") == {"x", "y"}
    with pytest.raises(MathError):
        evaluate("SEARCH('x', 'Sum', 60)", {}, [0], 10)
    with pytest.raises(MathError):
        evaluate("a +", {"a": {}}, [0], 10)
    with pytest.raises(MathError):
        evaluate("ANOMALY_DETECTION_BAND(a, 2) + 1", {"a": {}}, [0], 10)


def test_comparisons_bind_looser_than_arithmetic_and_give_one_or_zero():
    series = {"a": {0: 2.0, 10: 5.0}}
    assert evaluate("a * 2 >= 10", series, [0, 10], 10) == {0: 0.0, 10: 1.0}
    assert evaluate("a != 2", series, [0, 10], 10) == {0: 0.0, 10: 1.0}
    assert evaluate("(a < 3) + (a <= 2) + (a == 5) + (a > 4)", series, [0, 10], 10) == {0: 2.0, 10: 2.0}


def test_if_takes_the_branch_of_each_period_and_broadcasts_scalars():
    # GIVEN errors and requests, one period with only 3 requests and one with none at all
    series = {"e": {0: 1.0, 10: 5.0, 20: 0.0}, "c": {0: 3.0, 10: 100.0, 20: 0.0}}
    # WHEN the rate counts only periods with at least 10 requests
    rate = evaluate("IF(c >= 10, 100 * e / c, 0)", series, [0, 10, 20], 10)
    # THEN the small periods are 0 (the division by zero is in the branch not taken) and the real one its rate
    assert rate == {0: 0.0, 10: 5.0, 20: 0.0}
    # AND a true condition whose branch lacks the timestamp gives 0 there, a false one none (Using IF expressions)
    assert evaluate("IF(c > 50, e, c)", {"c": {0: 100.0}, "e": {}}, [0], 10) == {0: 0.0}
    assert evaluate("IF(c > 50, c, e)", {"c": {0: 1.0}, "e": {}}, [0], 10) == {}
    assert evaluate("IF(1, 2, 3)", {}, [0, 10], 10) == {0: 2.0, 10: 2.0}


def test_an_anomaly_does_not_train_the_band_after_it():
    # GIVEN 20 periods of 100 requests, then nothing for 5 periods
    history = {t: 100.0 for t in range(0, 200, 10)} | {t: 0.0 for t in range(200, 250, 10)}
    # WHEN the band is drawn at the fifth silent period
    band = anomaly_band(history, [240], 10, 3.0)
    # THEN it is still the band of the 100s: the silent periods, each outside its own band, did not teach it that
    # silence is normal
    assert band == Band({240: (70.0, 130.0)})


def test_the_error_budget_expressions_evaluate_as_cloudwatch_would():
    # GIVEN one window's requests and 5XX: enough requests, too few, and none at all
    series = {"c": {0: 1000.0, 60: 4.0}, "e": {0: 3.0, 60: 4.0}}
    # WHEN the burn rate and the budget left (99.9 %: a budget of 0.1 %) are evaluated
    burn = evaluate("IF(c >= 5, 100 * e / c / 0.1, 0)", series, [0, 60, 120], 60)
    left = evaluate("IF(c >= 5, 100 - 100 * (100 * e / c) / 0.1, 100)", series, [0, 60], 60)
    # THEN 0.3 % errors burn 3× the budget's pace (a whole SLO window at that share overspends: -200 % left);
    # a window under the minimum burns and spends nothing; a window without data has no value
    assert burn == pytest.approx({0: 3.0, 60: 0.0})
    assert left == pytest.approx({0: -200.0, 60: 100.0})


# CloudWatch's own examples (Use metric math: "Comparison and logical operators", "Using IF expressions"), five
# periods with "-" for no value as None
def _series(*values: float | None) -> dict[int, float]:
    return {10 * index: value for index, value in enumerate(values) if value is not None}


def test_the_documented_if_examples_give_the_documented_results():
    # GIVEN the documentation's metric1 [1, 1, 0, 0, -], metric2 [30, -, 0, 0, 30], metric3 [0, 0, 20, -, 20]
    series = {"m1": _series(1, 1, 0, 0, None), "m2": _series(30, None, 0, 0, 30), "m3": _series(0, 0, 20, None, 20)}
    periods = [0, 10, 20, 30, 40]
    # WHEN each documented IF form is evaluated
    # THEN each gives the documented series
    assert evaluate("IF(m1, m2, m3)", series, periods, 10) == _series(30, 0, 20, None, None)
    assert evaluate("IF(m1, 5, m3)", series, periods, 10) == _series(5, 5, 20, None, None)
    assert evaluate("IF(m1, m2, 5)", series, periods, 10) == _series(30, 0, 5, 5, None)


def test_a_missing_value_counts_as_0_in_comparisons_and_arithmetic_of_two_series():
    # GIVEN the documentation's metric1 [30, 20, 0, 0] and metric2 [20, -, 20, -]
    series = {"m1": _series(30, 20, 0, 0), "m2": _series(20, None, 20, None)}
    periods = [0, 10, 20, 30]
    # WHEN compared ("treats the missing value in the other time series as 0") and subtracted ("Missing values in a
    # time series are treated as 0")
    # THEN the documented comparison, and arithmetic on the same terms
    assert evaluate("m1 < m2", series, periods, 10) == _series(0, 0, 1, 0)
    assert evaluate("m1 >= 30", series, periods, 10) == _series(1, 0, 0, 0)
    assert evaluate("m1 - m2", series, periods, 10) == _series(10, 20, -20, 0)
    # AND a division by zero drops the datapoint ("the data point is dropped"): x * x / x has none where x is 0
    assert evaluate("m2 * m2 / m2", series, periods, 10) == _series(20, None, 20, None)
