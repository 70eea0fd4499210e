"""basis-core venue plugin for Curve StableSwap pools (exact integer math in ``stableswap_math``)."""
