"""basis-core venue plugin for Lido stETH / wstETH / withdrawal queue (share math in ``rates``)."""
