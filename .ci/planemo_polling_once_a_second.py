"""planemo, with Galaxy's tool test client polling the server once a second, not four times.

Every poll of a tool test's job is an API request, which the test Galaxy answers with a user
lookup and a job serialisation. At Galaxy's 0.25 s, py-spy found a third of a CI Galaxy's CPU
time spent answering those polls, on a 2-core machine where the jobs under test need that CPU.
Waiting a second between polls makes each wait at most 0.75 s longer.
"""

import sys

import galaxy.util.wait
from planemo.cli import planemo

POLL_SECONDS = 1.0

# wait_on(function, desc, timeout, delta=0.25, polling_backoff=0, sleep_=None): the client's
# every wait (uploads, jobs, datasets) calls it with the default delta.
_, polling_backoff, sleep = galaxy.util.wait.wait_on.__defaults__
galaxy.util.wait.wait_on.__defaults__ = (POLL_SECONDS, polling_backoff, sleep)

if __name__ == "__main__":
    sys.argv[0] = "planemo"
    sys.exit(planemo())
