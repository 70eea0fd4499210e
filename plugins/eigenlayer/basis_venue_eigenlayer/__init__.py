"""basis-execution venue plugin: EigenLayer restaking (LST strategies, delegation, the withdrawal queue)."""

__all__: list[str] = []
