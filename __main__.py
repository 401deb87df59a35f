"""Pulumi entry point: `pulumi up --stack <tenant>` runs this with the project's venv.

One of the program's edges: the settings are read from the environment here, once."""

import pulumi

from kuntapilvi.errors import KuntapilviError
from kuntapilvi.program import run
from kuntapilvi.settings import Settings

try:
    settings = Settings.from_env()
except KuntapilviError as exc:
    raise pulumi.RunError(str(exc)) from None
run(settings)
