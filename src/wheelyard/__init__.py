"""wheelyard: a self-hosted wheel index organised by owner and label, and a wheel builder."""

__version__ = "0.1.0"
