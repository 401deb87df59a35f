"""gettext catalogues of the CLI and documents: <lang>/LC_MESSAGES/kuntapilvi.po (source) and
.mo (compiled by scripts/compile-messages, committed)."""
