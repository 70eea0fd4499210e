"""basis-core venue plugin for Lido (venue ``lido``, :class:`basis_venue_lido.venue.LidoVenue`): stETH / wstETH
staking, wrapping and the withdrawal queue; backtest (``sim``) and live (``live``) backends on the contracts'
share math (``rates``); ``testing`` deploys our Lido-ABI contracts on anvil."""
