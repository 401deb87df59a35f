"""The tag prefix every cloud resource carries: written by kuntapilvi_modules.tags, read by
the policy pack, so it lives below both."""

from __future__ import annotations

PREFIX = "kuntapilvi"
