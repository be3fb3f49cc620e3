"""The container set-up agrees with the tools: CI's Galaxy job configuration sends every dnalm
tool to the CPU image of this version, and containers/README.md shows that file as it is."""

import re
import tomllib

import yaml
from helpers import REPO

JOB_CONF = REPO / "containers" / "galaxy" / "job_conf.yml"


def tool_ids():
    ids = set()
    for xml in (REPO / "tools").glob("*.xml"):
        found = re.search(r'<tool\s+id="([^"]+)"', xml.read_text())
        if found:
            ids.add(found.group(1))
    return ids


def test_ci_job_conf_runs_every_tool_in_the_cpu_image_of_this_version():
    conf = yaml.safe_load(JOB_CONF.read_text())
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    routed = {entry["id"]: entry["environment"] for entry in conf["tools"]}
    assert set(routed) == tool_ids()
    environments = {routed[tool] for tool in routed}
    assert environments == {"cpu_podman"}
    podman = conf["execution"]["environments"]["cpu_podman"]
    assert podman["docker_enabled"] is True
    assert podman["docker_container_id_override"] == f"quay.io/galaxy-dnalm/dnalm:{version}-cpu"


def test_readme_shows_the_job_conf_ci_uses():
    readme = (REPO / "containers" / "README.md").read_text()
    assert JOB_CONF.read_text().strip() in readme
