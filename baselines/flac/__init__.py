"""FLAC through libFLAC: the level sweep, the coder, and its frames read back."""
