"""Report rendering: the evaluation report and the analyst report, with their plots and templates."""
