"""Prove from planemo's test reports that every dnalm job ran inside the given image.

    python containers/check_container_jobs.py --image quay.io/galaxy-dnalm/dnalm:0.1.0-cpu \\
        artifacts/container_tool_tests-1.json artifacts/container_tool_tests-2.json artifacts/container_workflow_tests.json

Galaxy records, for each job it ran in a container, the job metrics `container_id` (the
image) and `container_type`; planemo's JSON report keeps every job's details (tool tests:
tests[].data.job; workflow tests: the invocation's steps[].jobs[]). A dnalm job without
them ran outside any container, which is what this check exists to catch.
"""

import argparse
import collections
import json
import sys


def jobs_in(node):
    """Every job description in a planemo report: a dict with a tool id and job metrics."""
    if isinstance(node, dict):
        if "tool_id" in node and "job_metrics" in node:
            yield node
        for value in node.values():
            yield from jobs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from jobs_in(item)


def metrics_of(job):
    return {metric["name"]: metric.get("raw_value", metric.get("value")) for metric in job["job_metrics"]}


def is_dnalm_tool(tool_id):
    # Short ids in a local Galaxy; Tool Shed installs read toolshed.../repos/.../dnalm_x/version.
    return tool_id.startswith("dnalm_") or "/dnalm_" in tool_id


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="the image every dnalm job must name")
    parser.add_argument("reports", nargs="+", help="planemo --test_output_json files")
    args = parser.parse_args()

    in_image = collections.Counter()
    problems = []
    for report in args.reports:
        with open(report) as handle:
            jobs = [job for job in jobs_in(json.load(handle)) if is_dnalm_tool(job["tool_id"])]
        if not jobs:
            problems.append(f"{report}: no dnalm job with job metrics")
        for job in jobs:
            metrics = metrics_of(job)
            where = metrics.get("container_id")
            if where != args.image or metrics.get("container_type") != "docker":
                problems.append(
                    f"{report}: job {job.get('id')} ({job['tool_id']}, {job.get('state')}) ran in "
                    f"{where or 'no container'} ({metrics.get('container_type')}), not {args.image}"
                )
            else:
                in_image[job["tool_id"]] += 1

    for tool_id, count in sorted(in_image.items()):
        print(f"check_container_jobs: {count:3d} {tool_id} jobs in {args.image}")
    for problem in problems:
        print(f"check_container_jobs: FAIL: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_container_jobs: OK: all {sum(in_image.values())} dnalm jobs ran in {args.image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
