"""The inference chain after the swap and before the paste: occlusion, region and mouth masks and a face enhancer
(:class:`~realtime.processors.chain.FaceChain`), shared by every command."""
