"""The real LangGraph API server (`langgraph dev`, in-memory) serves the graphs of langgraph.json:
their assistants and schemas over HTTP, and one tiny offline lab round through threads/runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from trainlab.lab_history import full_state
from trainlab.runstore import RunFolder

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0
RUN_TIMEOUT_S = 120.0

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(client: httpx.Client, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"langgraph dev exited ({server.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if client.get("/ok").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(
        f"langgraph dev not ready after {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-3000:]}"
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A `langgraph dev` server on a free 127.0.0.1 port, offline (no key, no tracing)."""
    pytest.importorskip("langgraph_api", reason="langgraph-cli[inmem] (the dev extra) needed")
    port, log = _free_port(), tmp_path_factory.mktemp("server") / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "OPENAI_"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]),
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
        "OMP_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "langgraph_cli", "dev", "--no-browser", "--no-reload"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            _wait_ready(client, server, log)
            yield client
    finally:
        server.terminate()
        server.wait(timeout=30)


def _assistants(api: httpx.Client) -> dict[str, str]:
    found = api.post("/assistants/search", json={"limit": 20}).json()
    return {a["graph_id"]: a["assistant_id"] for a in found}


def test_the_server_lists_each_graph_with_its_schemas(api: httpx.Client) -> None:
    assistants = _assistants(api)
    assert set(assistants) == {"hpo", "proposal", "k1", "app"}
    schemas = {g: api.get(f"/assistants/{a}/schemas").json() for g, a in assistants.items()}
    assert set(schemas["hpo"]["input_schema"]["properties"]) == {"run_dir", "settings"}
    lab_form = schemas["hpo"]["context_schema"]["properties"]
    assert {"dataset", "rounds", "epochs", "model_width"} <= set(lab_form)
    assert lab_form["dataset"]["default"] == "digits"
    assert {"topic", "pattern"} <= set(schemas["proposal"]["input_schema"]["properties"])
    assert schemas["k1"]["context_schema"]["properties"]["steps_per_domain"]["default"] == 8


def test_one_tiny_lab_round_runs_offline_through_the_http_api(
    api: httpx.Client, tmp_path: Path
) -> None:
    thread = api.post("/threads", json={}).json()["thread_id"]
    run = api.post(
        f"/threads/{thread}/runs",
        json={
            "assistant_id": _assistants(api)["hpo"],
            "input": {"settings": {"output_dir": str(tmp_path)}},
            "context": {"rounds": 1, "epochs": 1, "offline": True},
        },
    ).json()
    deadline, status = time.monotonic() + RUN_TIMEOUT_S, run["status"]
    while status in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        status = api.get(f"/threads/{thread}/runs/{run['run_id']}").json()["status"]
    assert status == "success"
    state = api.get(f"/threads/{thread}/state").json()["values"]
    state = full_state(RunFolder(state["run_dir"]), state)  # the trials live on disk
    assert [t["status"] for t in state["trials"]] == ["complete"]
    assert (Path(state["run_dir"]) / "report.md").is_file()
    assert Path(state["run_dir"]).parent == tmp_path


def test_a_missing_topic_is_answered_with_a_clear_message(api: httpx.Client) -> None:
    answer = api.post(
        "/runs/wait", json={"assistant_id": _assistants(api)["proposal"], "input": {}}
    ).json()
    assert answer["__error__"]["error"] == "InputError"
    assert answer["__error__"]["message"].startswith("the proposal graph needs a topic")
