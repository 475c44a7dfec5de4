"""Build the index so that it mirrors the given files and folders.

New and changed files (by SHA-256 of their bytes) are loaded, chunked and
embedded; unchanged files keep their stored vectors; files no longer given are
dropped. The result is written as a new generation and published atomically
(see ``index.store``); a file lock stops two builds at once. A file that fails
to load is reported by name and, if it was indexed before, its previous items
are kept: a build never loses data because one file broke.

Each document's set-aside frame (letterhead, signature, ...), metadata and
chunking warnings are kept in the manifest, for ``index show``.

This module does not answer questions and does not parse formats itself
(``index.loaders`` and ``index.chunking`` do).
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from policy_assistant.core.errors import AssistantError, BadInput, IndexBusy, IndexUnusable
from policy_assistant.core.model import Item
from policy_assistant.core.settings import Settings
from policy_assistant.index import validity
from policy_assistant.index.chunking import split_document
from policy_assistant.index.embed_cache import CachedPassages, VectorCache, cache_key
from policy_assistant.index.loaders import SUPPORTED_SUFFIXES, load_document
from policy_assistant.index.store import IndexState, ItemStore

BUNDLED_CORPUS = Path(__file__).resolve().parent / "corpus"   # the default corpus, shipped in the package

EMBED_BATCH = 32          # texts per embedder call; the cache commits after each, so a kill loses at most one
LENGTH_WINDOW = 1024      # texts are sorted by length within windows of this many (similar lengths per call)


@dataclass
class BuildReport:
    added: list[str] = field(default_factory=list)       # doc ids embedded for the first time
    updated: list[str] = field(default_factory=list)     # doc ids re-embedded because the file changed
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)   # (path, reason)
    skipped: list[str] = field(default_factory=list)     # files in folders with an unsupported type
    items: int = 0
    embedded: int = 0
    reused: int = 0                                      # items not embedded by this run: carried or cached
    warnings: list[str] = field(default_factory=list)    # "doc: line 12: 3. does not continue the numbering ...",
                                                         # validity facts that contradict or cannot be read
    seconds: float = 0.0
    embed_seconds: float = 0.0                           # time inside the bare embedder's passage() calls
    raw_items_per_s: float | None = None                 # the bare embedder's items/s on this build's texts
    peak_rss_mb: float = 0.0

    @property
    def documents(self) -> int:
        return len(self.added) + len(self.updated) + len(self.unchanged)

    @property
    def items_per_s(self) -> float | None:
        """Items embedded per second of the whole build (loading, chunking, Chroma writes, manifest included)."""
        return round(self.embedded / self.seconds, 2) if self.embedded and self.seconds else None

    def to_json(self) -> dict:
        return {"documents": self.documents, "items": self.items, "embedded": self.embedded, "reused": self.reused,
                "seconds": round(self.seconds, 2), "embed_seconds": round(self.embed_seconds, 2),
                "items_per_s": self.items_per_s, "raw_items_per_s": self.raw_items_per_s,
                "peak_rss_mb": round(self.peak_rss_mb, 1),
                "added": self.added, "updated": self.updated, "unchanged": len(self.unchanged), "removed": self.removed,
                "failed": [{"path": path, "reason": reason} for path, reason in self.failed],
                "warnings": self.warnings}

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        parts = [f"{_count(self.items, 'item')} from {_count(self.documents, 'document')}",
                 f"{len(self.added)} added", f"{len(self.updated)} updated", f"{len(self.unchanged)} unchanged",
                 f"{len(self.removed)} removed"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        if self.warnings:
            parts.append(_count(len(self.warnings), "warning"))
        speed = f", {self.items_per_s:.1f} items/s" if self.items_per_s else ""
        reused = f", {_count(self.reused, 'item')} taken from earlier runs" if self.reused else ""
        return ", ".join(parts) + f" ({_count(self.embedded, 'item')} embedded in {self.seconds:.1f}s{speed}{reused})"


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def collect_files(paths: list[Path]) -> tuple[list[Path], list[str], list[tuple[str, str]]]:
    """Expand folders recursively. Returns (files, skipped notices, failures for named unsupported files)."""
    files, skipped, failed = [], [], []
    for path in paths:
        if not path.exists():
            raise BadInput(f"no such file or folder: {path}")
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))):
                if child.suffix.lower() in SUPPORTED_SUFFIXES:
                    files.append(child.resolve())
                elif not validity.is_sidecar(child):         # sidecars are read by validity.find_sidecars
                    skipped.append(str(child))
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            files.append(path.resolve())
        else:
            failed.append((str(path), f"unsupported file type {path.suffix or '(none)'}; "
                                      f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}"))
    return list(dict.fromkeys(files)), skipped, failed


def public_source(path: Path, folders: list[Path]) -> str:
    """What citations name as the source: the path relative to the indexed folder it was found in, or
    the file name; never an absolute server path."""
    for folder in folders:
        if path.is_relative_to(folder):
            return path.relative_to(folder).as_posix()
    return path.name


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


@contextmanager
def build_lock(settings: Settings):
    """One build at a time per index dir (also when the store is a Chroma server)."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.index_dir / "build.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another build is running on {settings.index_dir}; try again when it ends") from None
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def build_index(paths: list[Path] | None, settings: Settings, embedder, store: ItemStore | None = None,
                notify: Callable[[str], None] = lambda message: None, progress: bool = True) -> BuildReport:
    """Make the index mirror ``paths`` (default: the bundled corpus)."""
    started = time.perf_counter()
    store = store or ItemStore(settings)
    files, skipped, failed = collect_files(list(paths) if paths else [BUNDLED_CORPUS])
    sidecars = validity.find_sidecars(list(paths) if paths else [BUNDLED_CORPUS], files)
    failed = [(path, reason) for path, reason in failed if not validity.is_sidecar(Path(path))]
    folders = [p.resolve() for p in (paths or [BUNDLED_CORPUS]) if p.is_dir()]
    report = BuildReport(skipped=skipped, failed=failed)
    for notice in skipped:
        notify(f"skipped (unsupported type): {notice}")
        report.warnings.append(f"skipped (unsupported type): {notice}")
    if not files and not failed:
        raise BadInput("no policy files found in " + ", ".join(str(p) for p in paths or [BUNDLED_CORPUS]))

    with build_lock(settings):
        try:
            state = store.state()
        except IndexUnusable as exc:
            notify(f"{exc.message.split(';')[0]}; building a new index")
            state = None
        same_model = state is not None and state.embed_model == embedder.name
        old_manifest = state.manifest if same_model else {}
        manifest: dict = {}
        carried: list[str] = []                  # docs whose stored vectors go to the new generation
        fresh: list[Item] = []
        taken_docs = {entry["doc"] for key, entry in old_manifest.items() if Path(key) in files}
        for path in files:
            key = str(path)
            previous = old_manifest.get(key)
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if previous and previous["sha256"] == digest:
                    manifest[key] = dict(previous)
                    if "validity" not in previous:       # indexed before validity facts were read
                        document = load_document(path)
                        document.doc = previous["doc"]
                        manifest[key]["validity"], found = validity.manifest_entry(document)
                        report.warnings += found
                    carried.append(previous["doc"])
                    report.unchanged.append(previous["doc"])
                    continue
                doc_id = previous["doc"] if previous else _unique_doc_id(path, taken_docs)
                taken_docs.add(doc_id)
                document = load_document(path)
                document.doc = doc_id
                document.source = public_source(path, folders)
                chunked = split_document(document)
                items = chunked.items
                if not items:
                    raise BadInput(f"{path}: no text found to index")
            except AssistantError as exc:
                _keep_previous(exc.message, key, previous, manifest, carried, report)
                continue
            except OSError as exc:
                _keep_previous(f"{path}: cannot read ({exc.strerror or exc})", key, previous, manifest, carried, report)
                continue
            manifest[key] = {"sha256": digest, "doc": doc_id, "title": document.title, "year": document.year,
                             "items": len(items), "metadata": chunked.metadata, "set_aside": chunked.set_aside,
                             "warnings": chunked.warnings}
            report.warnings.extend(f"{doc_id}: {warning}" for warning in chunked.warnings)
            manifest[key]["validity"], found = validity.manifest_entry(document)
            report.warnings += found
            fresh.extend(items)
            (report.updated if previous else report.added).append(doc_id)
        report.removed = sorted(entry["doc"] for key, entry in old_manifest.items() if key not in manifest)
        report.items = sum(entry["items"] for entry in manifest.values())

        report.warnings += validity.apply_sidecars(manifest, sidecars)

        if state is not None and same_model and not report.changed:
            if manifest != old_manifest:         # only validity facts changed (a sidecar): same items, new pointer
                store.publish(IndexState(collection=state.collection, embed_model=embedder.name, manifest=manifest,
                                         built_at=time.time(), items=report.items))
            report.seconds = time.perf_counter() - started
            report.peak_rss_mb = peak_rss_mb()
            return report
        if not manifest:
            raise BadInput("none of the given files could be indexed: " + "; ".join(r for _, r in report.failed))

        generation = store.new_generation()
        cache = VectorCache(settings.embed_cache_path)
        try:
            if same_model:
                store.copy_docs(state.collection, generation, carried)
            _embed_into(store, generation, fresh, embedder, cache, report, progress)
            report.reused = report.items - report.embedded      # carried over, or cached by an earlier run
            store.publish(IndexState(collection=generation, embed_model=embedder.name, manifest=manifest,
                                     built_at=time.time(), items=report.items))
        except BaseException as exc:
            _discard(store, generation)          # best effort; a later build drops it otherwise
            if _disk_full(exc):
                raise IndexUnusable(f"the disk is full: the build stopped before it was complete ({_reason(exc)}); "
                                    f"the previous index is unchanged and still answering. Free some space and run "
                                    f"the build again: the vectors finished so far are kept") from None
            raise
        finally:
            cache.close()
        # The previous generation stays until the next build: readers follow the pointer only every
        # RECHECK_POINTER_S, and deleting it now failed their requests (503) in between.
        store.drop_stale_generations(keep={generation, state.collection} if state is not None else {generation})
    report.seconds = time.perf_counter() - started
    report.peak_rss_mb = peak_rss_mb()
    return report


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB: ``VmHWM`` from /proc (``ru_maxrss`` is inherited
    from the parent across fork and exec, so a small build started by a large process would report the
    parent's peak), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(getattr(exc, "message", "") or exc).lower()
    return "no space left" in text or "disk is full" in text or "disk full" in text


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _discard(store: ItemStore, generation: str) -> None:
    try:
        state = store.state()
        if state is not None and state.collection == generation:
            return                           # the pointer already names it (the failure came after publishing)
        store.client.delete_collection(generation)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        pass


def _keep_previous(reason: str, key: str, previous: dict | None, manifest: dict, carried: list, report: BuildReport):
    report.failed.append((key, reason))
    if previous:                     # the file broke: its last good items stay answerable
        manifest[key] = dict(previous)
        carried.append(previous["doc"])


def _unique_doc_id(path: Path, taken: set[str]) -> str:
    doc_id = path.stem
    if doc_id in taken:
        doc_id = f"{path.parent.name}-{path.stem}"
    suffix = 2
    base = doc_id
    while doc_id in taken:
        doc_id, suffix = f"{base}-{suffix}", suffix + 1
    return doc_id


def length_batches(texts: list[str], batch: int = EMBED_BATCH, window: int = LENGTH_WINDOW) -> list[list[int]]:
    """Positions of ``texts`` in embedder calls of ``batch``, sorted by length within each ``window`` (texts
    of similar length share a call: the engine's attention and thread split stay balanced). Character
    length stands in for token length: counting tokens would tokenise every text twice."""
    batches = []
    for start in range(0, len(texts), window):
        order = sorted(range(start, min(start + window, len(texts))), key=lambda i: len(texts[i]))
        batches += [order[i:i + batch] for i in range(0, len(order), batch)]
    return batches


class _TimedPassages:
    """The bare embedder with a stopwatch on ``embed_passages``: ``seconds`` inside it, ``count`` texts."""

    def __init__(self, embedder):
        self.embedder, self.name = embedder, embedder.name
        self.seconds, self.count = 0.0, 0

    def embed_queries(self, texts):
        return self.embedder.embed_queries(texts)

    def embed_passages(self, texts):
        began = time.perf_counter()
        vectors = self.embedder.embed_passages(texts)
        self.seconds += time.perf_counter() - began
        self.count += len(texts)
        return vectors


def _embed_into(store: ItemStore, generation: str, items: list[Item], embedder, cache: VectorCache,
                report: BuildReport, progress: bool) -> None:
    """Embed what the cache lacks, in length-sorted batches, writing each batch to the cache (committed) and
    to the new generation. Every call into the bare embedder is timed: ``report.raw_items_per_s`` is its
    throughput on exactly this build's texts and batches, the figure the build's own items/s (everything
    included) is compared with."""
    from tqdm import tqdm

    texts = [item.embedding_text() for item in items]
    timed = _TimedPassages(embedder)
    caching = CachedPassages(timed, cache)
    if len(cache.present([cache_key(caching.name, text) for text in texts])) < len(set(texts)):
        embedder.embed_queries(["预热"])                        # the model loads outside the timed calls
    with tqdm(total=len(items), desc="embedding items", unit="item", disable=not progress, leave=True, delay=1.0,
              dynamic_ncols=True, smoothing=0.1) as bar:
        for batch in length_batches(texts):
            vectors = caching.embed_passages([texts[i] for i in batch])
            store.add_items(generation, [items[i] for i in batch], vectors)
            bar.update(len(batch))
    report.embedded += caching.embedded
    report.embed_seconds += timed.seconds
    if timed.count and timed.seconds:
        report.raw_items_per_s = round(timed.count / timed.seconds, 2)


def remove_documents(docs: list[str], settings: Settings, store: ItemStore | None = None) -> BuildReport:
    """Publish a new generation without ``docs`` (no file is read, nothing is re-embedded).

    The same generation switch as ``build_index``: replicas following the pointer stop citing them."""
    started = time.perf_counter()
    store = store or ItemStore(settings)
    with build_lock(settings):
        state = store.state()
        if state is None:
            raise BadInput("there is no index to remove documents from")
        unknown = set(docs) - {entry["doc"] for entry in state.manifest.values()}
        if unknown:
            raise BadInput(f"no such document in the index: {', '.join(sorted(unknown))}")
        manifest = {key: entry for key, entry in state.manifest.items() if entry["doc"] not in docs}
        if not manifest:
            raise BadInput("cannot remove the last document of the index")
        report = BuildReport(unchanged=[entry["doc"] for entry in manifest.values()], removed=sorted(set(docs)),
                             items=sum(entry["items"] for entry in manifest.values()))
        generation = store.new_generation()
        store.copy_docs(state.collection, generation, report.unchanged)
        store.publish(IndexState(collection=generation, embed_model=state.embed_model, manifest=manifest,
                                 built_at=time.time(), items=report.items))
        store.drop_stale_generations(keep={generation, state.collection})
    report.seconds = time.perf_counter() - started
    return report
