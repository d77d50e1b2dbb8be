"""Local simulator of the Graph API and X API v2 subset the connectors use. Loopback only."""

from channels_bridge.simulator.server import (
    RunningSimulator,
    SimulatorBindError,
    dispatch,
    start_simulator,
)
from channels_bridge.simulator.state import Fault, FaultKind, Simulator
from channels_bridge.simulator.traffic import (
    SyntheticMessage,
    TrafficGenerator,
    generate_messages,
)
from channels_bridge.simulator.world import CUSTOMERS, GRAPH_VERSION, default_credentials

__all__ = [
    "CUSTOMERS",
    "GRAPH_VERSION",
    "Fault",
    "FaultKind",
    "RunningSimulator",
    "Simulator",
    "SimulatorBindError",
    "SyntheticMessage",
    "TrafficGenerator",
    "default_credentials",
    "dispatch",
    "generate_messages",
    "start_simulator",
]
