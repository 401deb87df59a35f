"""Types shared by every catalogue and stack schema."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt key must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Localized(StrictModel):
    """User-facing text: Finnish always, Swedish and English where the card offers them."""

    fi: Annotated[str, StringConstraints(min_length=1)] = Field(description="Finnish text")
    sv: str | None = Field(default=None, description="Swedish text")
    en: str | None = Field(default=None, description="English text")

    def get(self, lang: str) -> str:
        """Text in `lang`, falling back to Finnish."""
        value = getattr(self, lang, None)
        return value or self.fi


class Bilingual(Localized):
    """Text the public must read in both national languages: Finnish and Swedish required."""

    sv: Annotated[str, StringConstraints(min_length=1)] = Field(  # type: ignore[assignment]
        description="Swedish text (required: Finland's second national language)"
    )


def _check_cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"{value!r} is not a network in CIDR form such as 10.64.16.0/20 ({exc})"
        ) from None
    if net.version != 4:
        raise ValueError("only IPv4 networks are supported for tenant addressing")
    return str(net)


def _check_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


# C0 controls, DEL and C1 controls: invisible, and a line break in a value that lands in a
# one-line configuration setting (smb.conf, chrony.conf, main.cf, debconf) adds a setting.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def describe_control(char: str) -> str:
    if char in "\r\n":
        return "a line break"
    return f"control character U+{ord(char):04X}"


def _check_single_line(value: str) -> str:
    bad = CONTROL.search(value)
    if bad is not None:
        raise ValueError(
            f"{describe_control(bad.group())} is not allowed in this one-line value Fix: write "
            "it on one line, without control characters (it lands in configuration files)"
        )
    return value


SingleLine = Annotated[str, AfterValidator(_check_single_line)]
Cidr = Annotated[str, AfterValidator(_check_cidr)]
IpAddress = Annotated[str, AfterValidator(_check_address)]
Euros = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2)]

# OpenStack accepts longer names, but DNS labels (RFC 1123) are the stricter common ground: a
# name that passes here is valid as a Nova hostname, a Neutron name and a DNS label.
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DnsLabel = Annotated[str, StringConstraints(pattern=DNS_LABEL.pattern)]
CARD_ID = r"^(capacity|network|office|user)\.[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$"
CardId = Annotated[str, StringConstraints(pattern=CARD_ID)]
SEMVER = r"^\d+\.\d+\.\d+$"
