"""ZeroSearch platform: train and evaluate search agents against an LLM that simulates the search engine."""

__version__ = "0.1.0"
__all__ = ["__version__"]
