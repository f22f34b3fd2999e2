"""The ONNX query path: the embedding model run by onnxruntime, without torch.

sentence-transformers stays the reference implementation. At ingest, while it is
loaded anyway, its transformer (not the pooling) is exported once to ONNX under
``MOPI_HOME/onnx/<model-slug>-<sha12>/`` (``sha12``: the start of the weights
file's SHA-256), as ``model.onnx`` (the graph) and ``model.onnx.data`` (the weights,
ONNX's external-data layout), beside a ``manifest.json`` recording the hashes of the weights
and of ``tokenizer.json``, the opset and the sequence length. Question time then
embeds with onnxruntime and the model's ``tokenizer.json`` (the ``tokenizers``
package), with the same truncation, mean pooling and L2 normalisation.

Nothing here imports torch, transformers or sentence-transformers at import time,
and :class:`OnnxEmbedder` never does: onnxruntime and tokenizers are imported on
its first use. Only :func:`export_onnx` needs torch, and only when it has work to do.

:func:`choose_embedder` (used by ``bot.core.index.make_embedder``) picks the
embedder from ``settings.embedder`` (MOPI_EMBEDDER):

* ``auto`` (default): ONNX when a fresh export exists; otherwise one info line and
  sentence-transformers, which ingest then uses to write the export;
* ``onnx``: the same, but a missing or stale export is a warning;
* ``sentence-transformers``: always the reference implementation, no export.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


from bot.core.embedder import Embedder, SentenceTransformerEmbedder

log = logging.getLogger(__name__)

EXPORT_FORMAT = 2  # bump when what export_onnx writes changes: older exports are then stale (2: external weights)
OPSET = 17
MANIFEST = "manifest.json"
MODEL_FILE = "model.onnx"
# The weights beside the graph: onnxruntime maps this file into memory instead of copying the
# initializers out of a parsed protobuf, so a session costs 90 MiB less at its peak (measured).
DATA_FILE = "model.onnx.data"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
OUTPUT_NAME = "last_hidden_state"
# The sentence-transformers modules the ONNX path reproduces; any other module (Dense, a
# different pooling) would change the vectors, so such a model is not exported.
_SUPPORTED_MODULES = ("Transformer", "Pooling", "Normalize")
# Measured by evals/benchmarks/bench_embed.py on the corpus (2 cores): onnxruntime embeds the
# ingest passages faster than sentence-transformers, so ingest embeds with ONNX once it exists.
INGEST_PREFERS_ONNX = True


class ExportError(RuntimeError):
    """The model cannot be exported to ONNX (unsupported modules, or the export does not match)."""


def model_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "model"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_file(model_path: Path) -> Path:
    for name in WEIGHT_FILES:
        if (Path(model_path) / name).is_file():
            return Path(model_path) / name
    raise ExportError(f"no weights file ({' or '.join(WEIGHT_FILES)}) in {model_path}")


def max_seq_length(model_path: Path) -> int:
    """What sentence-transformers truncates to: sentence_bert_config.json, else the tokenizer's limit."""
    config = Path(model_path) / "sentence_bert_config.json"
    if config.is_file():
        value = json.loads(config.read_text()).get("max_seq_length")
        if value:
            return int(value)
    tok_config = Path(model_path) / "tokenizer_config.json"
    if tok_config.is_file():
        value = json.loads(tok_config.read_text()).get("model_max_length")
        if isinstance(value, int) and value < 100_000:
            return value
    return 512


def check_supported(model_path: Path) -> None:
    """Raise ExportError unless the model is a transformer + mean pooling (+ normalise)."""
    model_path = Path(model_path)
    if not (model_path / "tokenizer.json").is_file():
        raise ExportError(f"no tokenizer.json in {model_path}")
    modules_file = model_path / "modules.json"
    if not modules_file.is_file():
        raise ExportError(f"no modules.json in {model_path}")
    for module in json.loads(modules_file.read_text()):
        kind = module.get("type", "").rsplit(".", 1)[-1]
        if kind not in _SUPPORTED_MODULES:
            raise ExportError(f"module {module.get('type')} is not reproduced by the ONNX path")
        if kind == "Pooling":
            pooling = json.loads((model_path / module.get("path", "") / "config.json").read_text())
            modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v}
            if modes != {"pooling_mode_mean_tokens"}:
                raise ExportError(f"pooling {sorted(modes)} is not mean pooling")


# --------------------------------------------------------------------------- where an export lives


@dataclass(frozen=True)
class ExportLookup:
    """The outcome of looking for a fresh export: ``manifest`` is set when one exists."""

    folder: Path  # where the export for the current weights is (or would be)
    manifest: dict | None
    problem: str = ""  # why there is no fresh export: "missing" or what made it stale

    @property
    def fresh(self) -> bool:
        return self.manifest is not None

    @property
    def onnx_path(self) -> Path:
        return self.folder / MODEL_FILE


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def find_export(model_path: Path, onnx_root: Path, model_name: str) -> ExportLookup:
    """Look for the export of ``model_path``'s current weights and tokenizer under ``onnx_root``.

    Cheap enough for question time: the 90 MB weights are hashed only when no export
    recorded their path, size and modification time as they are now (an export made
    from exactly this file); tokenizer.json (half a megabyte) is always hashed.
    """
    model_path = Path(model_path)
    weights = weights_file(model_path)
    slug = model_slug(model_name)
    size, mtime_ns = _stat_key(weights)
    sha = None
    candidates = sorted(onnx_root.glob(f"{slug}-*/{MANIFEST}")) if onnx_root.is_dir() else []
    for manifest_path in candidates:
        manifest = _read_manifest(manifest_path.parent)
        if (manifest and manifest.get("weights_path") == str(weights.resolve())
                and manifest.get("weights_size") == size and manifest.get("weights_mtime_ns") == mtime_ns
                and manifest_path.parent.name == f"{slug}-{str(manifest.get('weights_sha256', ''))[:12]}"):
            sha = manifest["weights_sha256"]
            break
    if sha is None:
        sha = sha256_file(weights)
    folder = onnx_root / f"{slug}-{sha[:12]}"
    manifest = _read_manifest(folder)
    if manifest is None or not (folder / MODEL_FILE).is_file():
        others = [p.parent.name for p in candidates if p.parent != folder]
        problem = f"stale (weights changed; found only {', '.join(others)})" if others else "missing"
        return ExportLookup(folder, None, problem)
    if manifest.get("format") != EXPORT_FORMAT:
        return ExportLookup(folder, None, f"stale (export format {manifest.get('format')}, now {EXPORT_FORMAT})")
    if manifest.get("weights_sha256") != sha:
        return ExportLookup(folder, None, "stale (weights hash differs)")
    if manifest.get("tokenizer_sha256") != sha256_file(model_path / "tokenizer.json"):
        return ExportLookup(folder, None, "stale (tokenizer.json changed)")
    if manifest.get("onnx_bytes") != (folder / MODEL_FILE).stat().st_size or manifest.get("data_bytes") != _size(
            folder / DATA_FILE):
        return ExportLookup(folder, None, "stale (model.onnx or its weights are not the files exported)")
    return ExportLookup(folder, manifest)


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------- export (needs torch)


def export_onnx(model_path: Path, out_dir: Path, model_name: str | None = None, st_model=None) -> Path:
    """Export the model's transformer to ONNX under ``out_dir``; return the model.onnx path.

    Idempotent: when a fresh export exists this returns at once, importing nothing.
    Otherwise torch is needed: ``st_model`` (a loaded SentenceTransformer of this model)
    is used if given, else the model is loaded. The export is written to a temporary
    folder, checked against sentence-transformers on a padded batch, and only then
    renamed into place, so a killed export leaves no half-written model behind.
    """
    model_path, out_dir = Path(model_path), Path(out_dir)
    model_name = model_name or model_path.name
    lookup = find_export(model_path, out_dir, model_name)
    if lookup.fresh:
        return lookup.onnx_path
    check_supported(model_path)
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_temp_dirs(out_dir)
    weights = weights_file(model_path)
    size, mtime_ns = _stat_key(weights)
    weights_sha = sha256_file(weights)
    tokenizer_sha = sha256_file(model_path / "tokenizer.json")
    folder = out_dir / f"{model_slug(model_name)}-{weights_sha[:12]}"
    temp = out_dir / f".tmp-{folder.name}-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        if st_model is None:
            st_model = SentenceTransformerEmbedder(model_path, model_name).model
        inputs = _torch_export(st_model, temp / MODEL_FILE)
        _externalise_weights(temp / MODEL_FILE)
        seq_len = max_seq_length(model_path)
        _check_export(st_model, temp / MODEL_FILE, model_path, seq_len)
        import torch

        manifest = {
            "format": EXPORT_FORMAT,
            "model_name": model_name,
            "weights_path": str(weights.resolve()),
            "weights_file": weights.name,
            "weights_sha256": weights_sha,
            "weights_size": size,
            "weights_mtime_ns": mtime_ns,
            "tokenizer_sha256": tokenizer_sha,
            "opset": OPSET,
            "max_seq_length": seq_len,
            "inputs": inputs,
            "output": OUTPUT_NAME,
            "attention": "eager",
            "pooling": "mean",
            "normalize": True,
            "onnx_bytes": (temp / MODEL_FILE).stat().st_size,
            "data_bytes": (temp / DATA_FILE).stat().st_size,
            "torch": torch.__version__,
            "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _fsync_dir_files(temp)
        _swap_in(temp, folder)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    log.info("exported %s to ONNX at %s in %.1fs", model_name, folder, time.perf_counter() - started)
    return folder / MODEL_FILE


def _torch_export(st_model, target: Path) -> list[str]:
    """Trace the transformer (inputs -> last hidden state) into ``target``; return the input names."""
    import torch

    transformer = st_model[0].auto_model
    tokenizer = st_model[0].tokenizer
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in tokenizer.model_input_names]

    class _Hidden(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *args):
            return self.model(**dict(zip(names, args))).last_hidden_state

    # A padded example: with an all-ones mask the model may skip masking altogether, and the
    # trace would then bake in "no padding".
    encoded = tokenizer(["a short one", "a somewhat longer sentence, so the first is padded"],
                        padding=True, return_tensors="pt")
    example = tuple(encoded[n] for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, OUTPUT_NAME]}
    was_training = transformer.training
    attention = getattr(transformer.config, "_attn_implementation", None)
    transformer.eval()
    # Eager attention traces to plain MatMul/Softmax, which onnxruntime runs faster and in less
    # memory than the traced scaled_dot_product_attention (measured: about 30% less peak memory).
    _set_attention(transformer, "eager")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings
            torch.onnx.export(_Hidden(transformer), example, str(target), input_names=names,
                              output_names=[OUTPUT_NAME], dynamic_axes=axes, opset_version=OPSET,
                              do_constant_folding=True, dynamo=False)
    finally:
        _set_attention(transformer, attention)
        transformer.train(was_training)
    return names


def _externalise_weights(onnx_path: Path) -> None:
    """Rewrite ``onnx_path`` with its weights in DATA_FILE beside it (see DATA_FILE for why)."""
    import onnx

    model = onnx.load(str(onnx_path))
    onnx.save_model(model, str(onnx_path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=DATA_FILE, size_threshold=1024)
    # onnx writes the data file owner-only; it is no more secret than the graph beside it.
    (onnx_path.parent / DATA_FILE).chmod(onnx_path.stat().st_mode & 0o777)


def _set_attention(transformer, implementation: str | None) -> None:
    if implementation is None:
        return
    if hasattr(transformer, "set_attn_implementation"):
        transformer.set_attn_implementation(implementation)
    else:  # older transformers
        transformer.config._attn_implementation = implementation


_CHECK_TEXTS = (
    "How long is a group 3 record kept?",
    "Information may be shared with partner agencies when there is a policing purpose, "
    "and the decision to share is recorded with its reasons.",
    "MoPI",
    " ".join(["Records are reviewed every ten years."] * 60),  # past max_seq_length: truncated alike
)


def _check_export(st_model, onnx_path: Path, model_path: Path, seq_len: int) -> None:
    """The export, run as OnnxEmbedder runs it, must agree with sentence-transformers."""
    import numpy as np

    reference = st_model.encode(list(_CHECK_TEXTS), normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)
    probe = OnnxEmbedder(onnx_path, model_path / "tokenizer.json", "check", seq_len, batch_size=len(_CHECK_TEXTS))
    got = np.asarray(probe.embed_documents(list(_CHECK_TEXTS)))
    cosine = float((reference * got).sum(axis=1).min())
    if cosine < 0.99999:
        raise ExportError(f"the ONNX export disagrees with sentence-transformers (min cosine {cosine:.6f})")


def _swap_in(temp: Path, folder: Path) -> None:
    """Rename ``temp`` to ``folder``, replacing a stale export of the same name."""
    if folder.exists():
        if _same_export(folder, temp):
            shutil.rmtree(temp, ignore_errors=True)  # another process finished the same export first
            return
        old = folder.with_name(f".old-{folder.name}-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.rename(folder, old)
        try:
            os.rename(temp, folder)
        finally:
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(temp, folder)


def _same_export(folder: Path, temp: Path) -> bool:
    """Whether ``folder`` already holds an export equal in hashes and format to the one in ``temp``."""
    have, new = _read_manifest(folder), _read_manifest(temp)
    keys = ("format", "weights_sha256", "tokenizer_sha256")
    return bool(have and new and all(have.get(k) == new.get(k) for k in keys)
                and _size(folder / MODEL_FILE) == have.get("onnx_bytes")
                and _size(folder / DATA_FILE) == have.get("data_bytes"))


def _fsync_dir_files(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())


def _remove_abandoned_temp_dirs(out_dir: Path) -> None:
    """Temporary folders left by an export that was killed (its process is gone)."""
    for temp in [*out_dir.glob(".tmp-*"), *out_dir.glob(".old-*")]:
        pid = temp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(temp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- the embedder (no torch)


def default_threads() -> int:
    """Threads for one inference: the CPUs this process may use (2 here), at most 8."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    return max(1, min(available, 8))


class OnnxEmbedder:
    """An ``Embedder`` (bot.core.embedder) over an ONNX export: same vectors as SentenceTransformerEmbedder.

    Texts are tokenized with the model's tokenizer.json (truncated to ``max_length``),
    sorted by length and padded per batch, run through onnxruntime, mean-pooled over
    the attention mask and L2-normalised.
    """

    def __init__(self, onnx_path: Path, tokenizer_path: Path, name: str, max_length: int,
                 batch_size: int = 32, threads: int | None = None):
        self.onnx_path = Path(onnx_path)
        self.tokenizer_path = Path(tokenizer_path)
        self.name = name
        self.max_length = max_length
        self.batch_size = max(1, batch_size)
        self.threads = threads or default_threads()
        self._session = None
        self._tokenizer = None
        self._loading = threading.Lock()  # a warm-up thread and a question may both ask for it
        self._inputs: list[str] = []

    @classmethod
    def from_export(cls, lookup: ExportLookup, model_path: Path, name: str, batch_size: int = 32) -> OnnxEmbedder:
        manifest = lookup.manifest or {}
        return cls(lookup.onnx_path, Path(model_path) / "tokenizer.json", name,
                   int(manifest.get("max_seq_length") or max_seq_length(model_path)), batch_size)

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def model(self):
        """The onnxruntime session, created on first use (the counterpart of the ST model)."""
        with self._loading:
            return self._load()

    def _load(self):
        if self._session is None:
            started = time.perf_counter()
            import onnxruntime as ort
            from tokenizers import Tokenizer

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3  # errors only
            session = ort.InferenceSession(str(self.onnx_path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
            tokenizer.no_padding()  # tokenizer.json pads to a fixed 128: batches are padded here instead
            tokenizer.enable_truncation(max_length=self.max_length)
            self._inputs = [i.name for i in session.get_inputs()]
            self._tokenizer = tokenizer
            self._session = session
            log.info("ONNX embedding model %s loaded in %.2fs", self.name, time.perf_counter() - started)
        return self._session

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def _batches(self, order, lengths):
        """Index batches of at most ``batch_size`` texts, fewer when they are long.

        Attention memory grows with batch x length squared, and onnxruntime keeps its peak
        allocation: a batch of long texts is cut so that it needs no more than
        ``batch_size`` texts of 128 tokens would (the vectors do not depend on batching).
        """
        budget = self.batch_size * 128 * 128
        start = 0
        while start < len(order):
            width = int(lengths[order[start]])  # the longest of this batch: sorted longest first
            size = max(1, min(self.batch_size, budget // (width * width)))
            yield order[start:start + size]
            start += size

    def encode(self, texts: list[str]):
        """Normalised vectors of ``texts`` as a float32 matrix, in input order."""
        import numpy as np

        session = self.model
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=True)
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(-lengths, kind="stable")  # longest first, as sentence-transformers does
        out = None
        for idx in self._batches(order, lengths):
            width = int(lengths[idx].max())
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            types = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                enc = encodings[i]
                n = len(enc.ids)
                ids[row, :n] = enc.ids
                mask[row, :n] = 1
                types[row, :n] = enc.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            hidden = session.run(None, {name: feed[name] for name in self._inputs})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[idx] = pooled
        return out


# --------------------------------------------------------------------------- choosing


def choose_embedder(settings) -> Embedder:
    """The embedder ``settings`` call for (see the module docstring); nothing heavy loads here."""
    model_path = settings.resolved_model_path()
    if settings.embedder == "sentence-transformers":
        return SentenceTransformerEmbedder(model_path, settings.model_name, settings.embed_batch_size)
    level = logging.WARNING if settings.embedder == "onnx" else logging.INFO
    try:
        check_supported(model_path)
    except (OSError, ValueError, ExportError) as exc:
        log.log(level, "the ONNX path cannot run %s (%s): embedding with sentence-transformers",
                settings.model_name, exc)
        return SentenceTransformerEmbedder(model_path, settings.model_name, settings.embed_batch_size)
    try:
        lookup = find_export(model_path, settings.onnx_dir, settings.model_name)
    except (OSError, ExportError) as exc:
        lookup = ExportLookup(settings.onnx_dir, None, f"unusable ({exc})")
    if lookup.fresh:
        return OnnxEmbedder.from_export(lookup, model_path, settings.model_name, settings.embed_batch_size)
    log.log(level, "ONNX export of %s %s at %s: embedding with sentence-transformers (`mopi ingest` writes it)",
            settings.model_name, lookup.problem, lookup.folder)
    # Ingest exports there once the model is loaded (see for_ingest).
    return SentenceTransformerEmbedder(model_path, settings.model_name, settings.embed_batch_size,
                                       onnx_export_dir=settings.onnx_dir)


class _IngestEmbedder:
    """Ingest's view of a fallback SentenceTransformerEmbedder: on the first embedding call
    the model loads (it must, to embed) and is exported to ONNX unless a fresh export has
    appeared meanwhile; the rest of the ingest embeds with whichever is faster
    (INGEST_PREFERS_ONNX). A failed export leaves sentence-transformers embedding."""

    def __init__(self, reference: SentenceTransformerEmbedder, onnx_root: Path):
        self.reference = reference
        self.onnx_root = Path(onnx_root)
        self.name = reference.name
        self._active: Embedder | None = None

    @property
    def loaded(self) -> bool:
        return self.reference.loaded

    @property
    def activated(self) -> bool:
        return self._active is not None

    def ensure_export(self) -> Embedder:
        """Export now (loading the model) if not done yet; the embedder ingest should use."""
        if self._active is None:
            self._active = self.reference
            model_path, name = self.reference.model_path, self.reference.name
            try:
                lookup = find_export(model_path, self.onnx_root, name)
                if not lookup.fresh:
                    export_onnx(model_path, self.onnx_root, name, st_model=self.reference.model)
                    lookup = find_export(model_path, self.onnx_root, name)
            except Exception as exc:  # noqa: BLE001 - the export is an optimisation: ingest carries on
                log.warning("ONNX export of %s failed (%s): questions will use sentence-transformers",
                            name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            else:
                if INGEST_PREFERS_ONNX and lookup.fresh:
                    self._active = OnnxEmbedder.from_export(lookup, model_path, name, self.reference.batch_size)
        return self._active

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.ensure_export().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.ensure_export().embed_query(text)


def for_ingest(embedder) -> Embedder:
    """What ingest embeds with: ``embedder``, or for a fallback one (see choose_embedder) a
    wrapper that writes the ONNX export when the model loads."""
    if isinstance(embedder, SentenceTransformerEmbedder) and embedder.onnx_export_dir is not None:
        return _IngestEmbedder(embedder, embedder.onnx_export_dir)
    return embedder


def finish_ingest(work) -> None:
    """After an ingest that embedded nothing: write a missing export anyway (once), so questions
    stop falling back to sentence-transformers. No-op for any other embedder."""
    if isinstance(work, _IngestEmbedder) and not work.activated:
        work.ensure_export()
