"""A local Network Watcher: topology -> engine -> ARM HTTP facade (stdlib only).

The emulator shares no code with the nwlab client; they meet only in plain JSON over HTTP, so
the client exercises the same code path as against Azure.
"""

# The estate parts parsed by their own modules register with the topology on import (see
# topology.PART_PARSERS); imported first, so no topology is ever built without them.
from . import firewall, loadbalancer, outbound, scalesets  # noqa: F401
from .server import EmulatorServer
from .topology import DEFAULT_TOPOLOGY_PATH, Topology, TopologyError, load_topology

__all__ = ["DEFAULT_TOPOLOGY_PATH", "EmulatorServer", "Topology", "TopologyError",
           "load_topology"]
