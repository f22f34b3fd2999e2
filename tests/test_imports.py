"""Each command imports only what it needs: the real CLI in a subprocess, its loaded modules read at exit.

Heavy imports cost seconds and hundreds of MiB on this machine (torch and
sentence-transformers about 8 s and 450 MiB), and every CLI call, eval worker and
bot restart pays them. The numbers are in `make bench`; this pins which modules load.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from bot.core.onnx_embedder import export_onnx
from bot.settings import load_settings
from tests.conftest import ROOT, mopi_env

pytestmark = pytest.mark.slow

HEAVY = ("torch", "transformers", "sentence_transformers", "onnxruntime", "chromadb", "spacy", "thinc", "bm25s",
         "langchain_core")
# Runs the installed CLI's entry point and reports, at exit, which heavy modules got loaded.
_PROBE = """
import atexit, json, sys
heavy = %r
atexit.register(lambda: print("MODULES " + json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr))
from bot.cli import main
sys.argv = ["mopi", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def home(corpus_index, embedder, tmp_path_factory):
    """A copy of the corpus index with the ONNX export that `mopi ingest` writes."""
    home = tmp_path_factory.mktemp("imports") / "home"
    shutil.copytree(corpus_index.home, home)
    settings = load_settings({}, home=home)
    export_onnx(settings.resolved_model_path(), settings.onnx_dir, settings.model_name, st_model=embedder.model)
    return home


def loaded_by(home, *args: str, **env: str) -> tuple[set[str], subprocess.CompletedProcess]:
    proc = subprocess.run([sys.executable, "-c", _PROBE % (HEAVY,), *args], cwd=ROOT,
                          env=mopi_env(home, MOPI_CORPUS_DIR=str(ROOT / "corpus"), **env),
                          capture_output=True, text=True, timeout=240)
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES ")), None)
    assert line, proc.stderr[-2000:]
    return set(json.loads(line.removeprefix("MODULES "))), proc


EMBEDDERS = {"torch", "transformers", "sentence_transformers", "onnxruntime"}


@pytest.mark.parametrize("args", [("status",), ("status", "LAN-02"), ("status", "--overdue"), ("--help",)])
def test_the_register_and_help_import_no_store_no_model(home, args):
    modules, proc = loaded_by(home, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert modules == set(), modules


def test_a_register_question_does_not_load_the_embedder(home):
    modules, proc = loaded_by(home, "ask", "what is the status of LAN-02?")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "LAN-02" in proc.stdout
    assert not modules & EMBEDDERS, modules


@pytest.mark.parametrize("args", [("ask", "how long do we keep a group 3 record?"), ("search", "group 3 clear period")])
def test_a_guidance_question_embeds_with_onnx_and_never_imports_torch_langchain_or_chromadb(home, args):
    modules, proc = loaded_by(home, *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "onnxruntime" in modules
    # langchain_core costs a cold question 0.3 s; the core's embedders need only its interface's shape.
    # chromadb 0.6 s and 80 MiB: the embedded index is searched through its snapshot's vectors.
    assert not modules & {"torch", "transformers", "sentence_transformers", "langchain_core", "chromadb"}, modules


def test_a_guidance_question_can_still_search_the_chroma_collection(home):
    modules, proc = loaded_by(home, "ask", "how long do we keep a group 3 record?", MOPI_DENSE_SEARCH="store")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "chromadb" in modules and "6-year" in proc.stdout


def test_the_slack_command_without_tokens_stops_before_any_heavy_import(home):
    modules, proc = loaded_by(home, "slack")
    assert proc.returncode != 0 and "SLACK_BOT_TOKEN" in proc.stderr
    assert modules == set(), modules
