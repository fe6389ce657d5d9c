"""Rules as code: one module per rule, a registry, and the policy they read.

``from evalaudit.rules import Policy, load_policy, RULE_BY_KIND`` keeps
working: the policy loader lives in :mod:`evalaudit.rules.policy`, the
registry in :mod:`evalaudit.rules.base`, and each rule in its own module
(``ea101_labeler_lenient.py`` ...), imported here so that it registers.
``rules/README.md``'s tables and ``evalaudit rules`` are generated from the
registry (:mod:`evalaudit.rules.docs`).
"""

from __future__ import annotations

# the built-in rules register themselves on import (each imports base and policy itself)
from evalaudit.rules import (  # noqa: F401 (imported to register)
    ea101_labeler_lenient,
    ea102_labeler_severe,
    ea110_judge_bias,
    ea111_judge_self_preference,
    ea201_slice_tilted,
    ea210_judge_tilted,
    ea301_labeler_drift,
    ea401_agreement_low,
    ea501_supply_concentration,
    ea601_assignment_imbalance,
    ea701_gold_failure,
    ea801_data_quality,
    ea901_headline_shift,
)
from evalaudit.rules.base import (
    FINDING_KINDS,
    HEADLINE_KEYS,
    RULE_BY_CODE,
    RULE_BY_KIND,
    RULES,
    SEVERITIES,
    SHARED_KEYS,
    PolicyKey,
    Rule,
    RuleInput,
    all_keys,
    register,
    unregister,
)
from evalaudit.rules.policy import (
    Override,
    Policy,
    default_rules_path,
    load_policy,
    with_ppi_strata,
)

__all__ = [
    "FINDING_KINDS",
    "HEADLINE_KEYS",
    "RULES",
    "RULE_BY_CODE",
    "RULE_BY_KIND",
    "SEVERITIES",
    "SHARED_KEYS",
    "Override",
    "Policy",
    "PolicyKey",
    "Rule",
    "RuleInput",
    "all_keys",
    "default_rules_path",
    "load_policy",
    "register",
    "unregister",
    "with_ppi_strata",
]
