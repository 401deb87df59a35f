"""Pulumi entry point: `pulumi up --stack <tenant>` runs this with the project's venv."""

from kuntapilvi.program import run

run()
