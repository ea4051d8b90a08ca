"""Swappers: the classic landmark warp (embedded default); neural backends follow."""
