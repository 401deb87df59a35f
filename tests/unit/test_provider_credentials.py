"""Every provider the program makes carries explicit credentials and an explicit empty `cloud`:
an OS_CLOUD in the shell must not send a tenant's servers to the clouds.yaml entry's project."""

from __future__ import annotations

import pytest

from kuntapilvi.dryrun import dry_run
from kuntapilvi.project import ProjectPaths


@pytest.mark.parametrize("stack", ["centre", "kajaani"])
def test_no_provider_takes_os_cloud_from_the_environment(
    repo: ProjectPaths, stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OS_CLOUD", "someone-elses-cloud")
    providers = [r for r in dry_run(repo, stack).resources
                 if r.type == "pulumi:providers:openstack"]  # fmt: skip
    assert providers
    for p in providers:
        assert p.inputs.get("cloud") == "", (p.name, p.inputs.get("cloud"))
