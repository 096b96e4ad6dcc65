"""Pure core: typed per-frame data, labels, crop, tracking. NumPy only; imports no adapter."""
