"""The other Network Watcher diagnostics as typed results, their client calls, and fixes as data.

    r = nw.ip_flow_verify("MultiTierApp0", "Outbound", "TCP", 80, "10.1.4.4", 80,
                          resource_group="ContosoRG")
    r.access, r.rule_name, r.frame(), r.to_dict()

Results (IpFlowResult, NextHopResult, NsgDiagnosticResult, EffectiveRoutes,
EffectiveSecurityRules, ConnectionAnalyzerResult) parse any JSON object leniently and give it back
with to_dict(); fixes (Fix) carry the az command and the REST request that apply them.
"""

from nwlab.diagnostics.flow import IpFlowResult, NextHopResult
from nwlab.diagnostics.nsg import (
    EvaluatedNsg,
    MatchedRule,
    NsgDiagnosticEntry,
    NsgDiagnosticResult,
    NsgProfile,
    RuleEvaluation,
)
from nwlab.diagnostics.routes import EffectiveRoute, EffectiveRoutes
from nwlab.diagnostics.rules import Association, EffectiveNsg, EffectiveRule, EffectiveSecurityRules

__all__ = [
    "Association", "EffectiveNsg", "EffectiveRoute", "EffectiveRoutes", "EffectiveRule",
    "EffectiveSecurityRules", "EvaluatedNsg", "IpFlowResult", "MatchedRule", "NextHopResult",
    "NsgDiagnosticEntry", "NsgDiagnosticResult", "NsgProfile", "RuleEvaluation",
]
