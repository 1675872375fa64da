"""The monthly cost budget of the stack, on the costs tagged with its project tag.

Budgets refresh a few times a day: this is a cost guardrail, not a fast alarm. The forecast warns the
low tier early; the actual spend passing the budget pages the high tier. The `Project` tag must be
activated as a cost allocation tag in the billing console for the filter to see any cost.
"""

from __future__ import annotations

from troposphere import AWSObject, Ref, budgets, sns

from cloudformation.common import PROJECT_TAG
from cloudformation.template import Stack
from core.config import Config

FORECAST_WARNING_PERCENT = 80.0
ACTUAL_LIMIT_PERCENT = 100.0


def build_budget(stack: Stack) -> list[AWSObject]:
    config = stack.config
    notifications = stack.notifications
    return [
        budgets.Budget(
            "MonthlyCostBudget",
            Budget=budgets.BudgetData(
                BudgetName=config.resource_name("monthly-cost"),
                BudgetType="COST",
                TimeUnit="MONTHLY",
                BudgetLimit=budgets.Spend(Amount=config.budget.monthly_usd, Unit="USD"),
                CostFilters={"TagKeyValue": [cost_tag_filter(config)]},
            ),
            NotificationsWithSubscribers=[
                _notify("FORECASTED", FORECAST_WARNING_PERCENT, notifications.low),
                _notify("ACTUAL", ACTUAL_LIMIT_PERCENT, notifications.high),
            ],
        )
    ]


def cost_tag_filter(config: Config) -> str:
    """Cost Explorer's spelling of a user tag filter: `user:<key>$<value>`."""
    return f"user:{PROJECT_TAG}${config.stack_name}"


def _notify(kind: str, percent: float, topic: sns.Topic) -> budgets.NotificationWithSubscribers:
    return budgets.NotificationWithSubscribers(
        Notification=budgets.Notification(
            NotificationType=kind, ComparisonOperator="GREATER_THAN", Threshold=percent, ThresholdType="PERCENTAGE"
        ),
        Subscribers=[budgets.Subscriber(SubscriptionType="SNS", Address=Ref(topic))],
    )
