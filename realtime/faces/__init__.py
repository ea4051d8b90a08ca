"""Face geometry and analysis: alignment templates and warps, temporal filters (detection backends follow)."""
