"""Swappers: the interface and result every swapper shares (base), the classic landmark warp (embedded default,
no weights) and the neural engines (SimSwap-style generators, inswapper); factory builds one from options."""
