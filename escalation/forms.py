"""The admin form of a rule: conditions and actions checked against escalation.schema."""

from __future__ import annotations

from typing import Any

from django import forms

from escalation.models import EscalationRule
from escalation.schema import ACTIONS_HELP, CONDITIONS_HELP, actions_problems, conditions_problems


class EscalationRuleForm(forms.ModelForm):
    class Meta:
        model = EscalationRule
        fields = [
            "name",
            "trigger_type",
            "conditions",
            "actions",
            "delay_minutes",
            "priority",
            "is_active",
        ]
        help_texts = {"conditions": CONDITIONS_HELP, "actions": ACTIONS_HELP}
        widgets = {
            "conditions": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "actions": forms.Textarea(attrs={"rows": 6, "cols": 80}),
        }

    def clean_conditions(self) -> Any:
        conditions = self.cleaned_data["conditions"]
        if conditions is None:  # an empty box means "every order"
            return {}
        problems = conditions_problems(conditions)
        if problems:
            raise forms.ValidationError(problems)
        return conditions

    def clean_actions(self) -> Any:
        problems = actions_problems(self.cleaned_data["actions"])
        if problems:
            raise forms.ValidationError(problems)
        return self.cleaned_data["actions"]
