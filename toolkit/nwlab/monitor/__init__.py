"""Connection Monitor: promote checks (or a mesh) to Azure's continuous monitoring, and read what
it finds back as frames and figures.

    m = nw.monitor(checks, "web-mesh", workspace=workspace_id)   # one resource per source region
    m.status(); m.stop(); m.start(); m.delete()
    res = m.results(since="1h"); res.frame(); res.rtt_figure(); res.compare(batch)
    nw.list_monitors(); nwlab.monitor.Monitor.find(nw, "web-mesh")
"""

from __future__ import annotations

from nwlab.monitor.build import MonitorPlan, MonitorTest
from nwlab.monitor.limits import MonitorLimitError
from nwlab.monitor.logs import LogAnalyticsClient, LogAnalyticsUnknown
from nwlab.monitor.monitor import (
    Monitor,
    MonitorNotFound,
    MonitorStatus,
    create_monitor,
    list_monitors,
)
from nwlab.monitor.results import MonitorResults
from nwlab.monitor.spec import Thresholds

__all__ = ["LogAnalyticsClient", "LogAnalyticsUnknown", "Monitor", "MonitorLimitError",
           "MonitorNotFound", "MonitorPlan", "MonitorResults", "MonitorStatus", "MonitorTest",
           "Thresholds", "create_monitor", "list_monitors"]
