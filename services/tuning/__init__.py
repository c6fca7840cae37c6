"""Simulation tuning: fine-tune an LLM into a search simulator (collect → label → build → train → fidelity)."""
