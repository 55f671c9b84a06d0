"""A monthly AWS Budget with e-mail alerts (the guide's "billing alerts" under Cost and Licensing)."""

from __future__ import annotations

from aws_cdk import aws_budgets as budgets
from constructs import Construct

# (notification type, percent of the budget): warn early on actual spend, and before
# the month ends when the forecast already exceeds the amount.
NOTIFICATIONS: tuple[tuple[str, int], ...] = (("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100))


class MonthlyBudget(Construct):
    """A monthly cost budget of ``amount_usd`` that e-mails ``email`` at 80 % and 100 % of
    actual spend and when the forecast passes 100 %.

    The budget covers the whole account's unblended cost: the guide puts each environment
    in its own account, and cost-allocation tags need activating in Billing before a tag
    filter sees anything.

    Attributes:
        budget (the L1 resource), name.
    """

    def __init__(self, scope: Construct, construct_id: str, *, name: str, amount_usd: int, email: str) -> None:
        super().__init__(scope, construct_id)
        if amount_usd <= 0:
            raise ValueError("amount_usd must be positive")
        self.name = name
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=amount_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=[budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=email)],
                )
                for kind, percent in NOTIFICATIONS
            ],
        )


__all__ = ["MonthlyBudget", "NOTIFICATIONS"]
