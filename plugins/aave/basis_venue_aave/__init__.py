"""basis-core venue plugin for Aave v3: exact protocol math (``math``), default risk parameters
(``params``) and, for tests, a real Aave v3 market deployed on anvil from npm artifacts (``testing``)."""
