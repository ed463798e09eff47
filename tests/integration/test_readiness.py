"""/readyz follows ZeroMQ peers (issue 6): lindung-verify connects to intake's
publisher and billing's subscriber, so it is unready, saying why, until both
are there, ready once they are, and unready again when one goes away."""

from __future__ import annotations

import signal
import unittest

import harness


class Readiness(harness.LindungTestCase):

    def readyz(self, daemon):
        return harness.http("GET", daemon.url + "/readyz")

    def test_verify_ready_only_with_its_peers(self) -> None:
        s = self.stack
        s.migrate()
        s.start_daemons("verify")
        r = harness.wait_until(lambda: (lambda x: x if x.status == 503 else None)(
            self.readyz(s.verify)), timeout=10, message="verify unready without peers")
        self.assertIn("zeromq", r.body.get("reason", ""), r.body)

        s.start_daemons("intake", "billing")
        harness.wait_until(lambda: self.readyz(s.verify).status == 200, timeout=15,
                           message="verify ready once intake and billing are up")

        s.intake.kill(signal.SIGKILL)
        r = harness.wait_until(lambda: (lambda x: x if x.status == 503 else None)(
            self.readyz(s.verify)), timeout=15, message="verify unready after intake died")
        self.assertIn("zeromq", r.body.get("reason", ""), r.body)
        s.intake.start()
        harness.wait_until(lambda: self.readyz(s.verify).status == 200, timeout=15,
                           message="verify ready again after intake restarted")


if __name__ == "__main__":
    unittest.main(verbosity=2)
