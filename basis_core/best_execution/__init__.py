"""Best execution on chain: splitting a swap across the installed AMM venues' pools (:mod:`.split`, pure) and
the core's router over the venues' quote hooks (:mod:`.router`, ``venue: "auto"``)."""
