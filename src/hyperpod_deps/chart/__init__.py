"""The chart component: rendering, planning, linting and listing images of the umbrella chart."""
