"""rewardrules: customer reward programs written in YAML, evaluated exactly."""
