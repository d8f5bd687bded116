"""Starts the built gcsim binary for the SDK tests.

The binary comes from $GCSIM_BIN (default: <repo>/target/debug/gcsim); run.sh
builds it first. Each `start_sim(...)` call spawns `gcsim serve --port 0`,
reads the two startup lines and kills the process at the end of the test
(or session).
"""

import json
import os
import pathlib
import subprocess
import urllib.request

import pytest
import PureCloudPlatformClientV2 as gc

REPO = pathlib.Path(__file__).resolve().parents[2]
GCSIM_BIN = os.environ.get("GCSIM_BIN", str(REPO / "target" / "debug" / "gcsim"))


class Sim:
    """A running gcsim: url, admin client credentials, /_sim helpers."""

    def __init__(self, *args, fixture=None, tmp_path=None):
        cmd = [GCSIM_BIN, "serve", "--port", "0", *args]
        if fixture is not None:
            path = tmp_path / "fixture.toml"
            path.write_text(fixture)
            cmd += ["--fixture", str(path)]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        first = self.proc.stdout.readline().strip()
        second = self.proc.stdout.readline().strip()
        if not first.startswith("gcsim listening on "):
            self.stop()
            raise RuntimeError(f"gcsim did not start: {first!r} {self.proc.stderr.read()}")
        self.url = first[len("gcsim listening on "):]
        fields = dict(p.split("=", 1) for p in second.split()[2:])
        self.client_id = fields["client_id"]
        self.client_secret = fields["client_secret"]

    def hook(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read() or b"null")

    def dump(self):
        return self.hook("GET", "/_sim/dump")

    def user_token(self, email):
        return self.hook("POST", "/_sim/token", {"user": email})["access_token"]

    def client(self, client_id=None, secret=None):
        """An SDK ApiClient logged in with client credentials."""
        api = gc.ApiClient(host=self.url)
        return api.get_client_credentials_token(
            client_id or self.client_id, secret or self.client_secret
        )

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="session")
def sim(tmp_path_factory):
    s = Sim("--rate-limit", "0", fixture=FIXTURE, tmp_path=tmp_path_factory.mktemp("sim"))
    yield s
    s.stop()


@pytest.fixture()
def start_sim(tmp_path):
    started = []

    def start(*args, fixture=None):
        s = Sim(*args, fixture=fixture, tmp_path=tmp_path)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture()
def client(sim):
    return sim.client()


FIXTURE = """
[org]
name = "Acme"
short_name = "acme"
region = "ap-southeast-2"

[[divisions]]
name = "Sales"

[[users]]
email = "admin@acme.example"
name = "Ada Admin"
roles = ["admin"]

[[users]]
email = "agent@acme.example"
name = "Agent Smith"
roles = ["employee"]

[[oauth_clients]]
name = "gcrecon-ci"
client_id = "ci-client"
client_secret = "ci-secret"
roles = ["admin"]

[[queues]]
name = "Support"

[catalog]
extra_permissions = ["integration:emiteApps:view"]
"""
