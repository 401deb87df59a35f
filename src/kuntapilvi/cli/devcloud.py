"""`kuntapilvi devcloud`: a real OpenStack control plane on loopback (placeholder)."""

import typer

app = typer.Typer(help="A real OpenStack on 127.0.0.1 for trying stacks before production.")
