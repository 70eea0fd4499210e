"""basis-core venue plugin for Uniswap v2 / v3: exact integer pool math, live execution, test deployment."""
