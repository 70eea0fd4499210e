"""basis-core venue plugin for Aave v3 (venue ``aave``, :class:`basis_venue_aave.venue.AaveVenue`): the backtest
simulator (``sim``), the live backend (``live``) and our flash-loan executor for atomic bundles (``executor``,
``contracts/LoopExecutor.sol``), on exact protocol math (``math``) and default risk parameters (``params``);
``deployment`` holds the address tables and ``testing`` deploys a real Aave v3 market on anvil from npm artifacts."""
