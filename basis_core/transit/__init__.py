"""Capital in transit: moving an asset between venues is a timed operation (``operation: "move"``).

See :mod:`basis_core.transit.routes` (how long each route takes and what it costs) and
:mod:`basis_core.transit.desk` (backtest: funds sit under ``transit:<from>-<to>:<asset>`` keys, earn nothing, and
arrive as events when the clock reaches their arrival time).
"""

from basis_core.transit.desk import Move, TransitDesk, in_transit, parse_move
from basis_core.transit.routes import DEFAULT_ROUTES, Route

__all__ = ["DEFAULT_ROUTES", "Move", "Route", "TransitDesk", "in_transit", "parse_move"]
