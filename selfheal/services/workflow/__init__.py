"""The fix workflow: payload models, step services, the step recorder, re-drive and runs."""
