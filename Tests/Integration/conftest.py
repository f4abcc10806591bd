"""Fixtures for the forwarder's integration tests: real namespaces, veths and traffic.

Each test module gets its own testbed (scripts/testbed.sh, prefix `it` + 4 random hex digits),
always torn down, also when a test fails. The `forwarder` fixture starts the binary
(.build/release/forwarder, or $FORWARDER), and stops every instance it started (SIGTERM, then
SIGKILL by PID) at the end of the test. A missing prerequisite is a failure, never a skip.
"""

import secrets
import signal

import pytest

from harness import Forwarder, check_prerequisites, testbed_down, testbed_up


def _sigterm_as_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    # A CI runner cancels with SIGTERM: turn it into KeyboardInterrupt so that every fixture's
    # finally runs (forwarders stopped, namespaces and veths removed).
    signal.signal(signal.SIGTERM, _sigterm_as_interrupt)


@pytest.fixture(scope="session", autouse=True)
def prerequisites():
    problems = check_prerequisites()
    if problems:
        pytest.fail("integration prerequisites missing:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def testbed():
    prefix = "it" + secrets.token_hex(2)
    try:
        tb = testbed_up(prefix)
        yield tb
    finally:
        testbed_down(prefix)


@pytest.fixture
def forwarder():
    """forwarder(*args, **kw) -> started Forwarder; all are stopped/killed at teardown."""
    started = []

    def start(*args, wait_ready=True, **kw):
        fw = Forwarder(list(args), **kw)
        started.append(fw)
        return fw.start(wait_ready=wait_ready)

    try:
        yield start
    finally:
        for fw in started:
            if fw.running():
                try:
                    fw.stop(timeout=5)
                except AssertionError:
                    pass
            fw.kill()


