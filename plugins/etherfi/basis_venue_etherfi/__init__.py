"""basis-execution venue plugin: EtherFi liquid restaking (eETH / weETH, the withdraw-request queue)."""

__all__: list[str] = []
