"""kuntapilvi: tenant stacks of a shared municipal ICT service centre, from one service catalogue."""

__version__ = "0.1.0"
