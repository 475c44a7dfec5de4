"""The console's document work: list, upload, delete, re-index, and what the indexer made of a file.

``DocumentDesk`` holds no index of its own: it reads the store's pointer
(the manifest) and the served corpus, and changes the index only through the
builder (``build_index``, ``remove_documents``), i.e. by publishing a new
generation that every replica follows.

Uploads are checked before anything is written (file name, type, size, zip
bombs in .docx, duplicates by SHA-256 against the index and within the batch),
then saved under ``Settings.uploads_path`` and indexed in a background job,
together with every file already indexed, so that a later ``index build`` of
that folder keeps them. A saved file that fails to parse is removed again and
reported; the others of the batch are indexed. One job runs at a time per
process (uploads queue behind it; a delete while one runs is refused), and
the builder's file lock refuses a build by another process clearly.
This module renders no page and checks no credentials (``ui.admin`` does).
"""
from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import threading
import time
import unicodedata
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from policy_assistant.core.errors import AssistantError, BadInput, IndexBusy
from policy_assistant.core.settings import Settings
from policy_assistant.index.builder import build_index, remove_documents
from policy_assistant.index.loaders import SUPPORTED_SUFFIXES, load_document
from policy_assistant.ui.viewer import doc_link

ZIP_MAX_RATIO = 100              # a .docx whose parts expand more than this is refused as a zip bomb
ZIP_MAX_ENTRIES = 5000
JOBS_KEPT = 50
INDEXED_AT = "documents-indexed-at.json"
BUSY_WAIT_S = 60.0              # an upload waits this long for another process's build before failing


class TooLarge(BadInput):
    status = 413


class Duplicate(BadInput):
    status = 409


@dataclass
class Job:
    id: str
    files: list[str]
    kind: str = "upload"
    status: str = "queued"               # queued -> running -> done | failed
    phase: str = "waiting for the previous job"
    embedded: int = 0                    # passages embedded so far (the progress bar)
    expected: int = 0                    # passages to embed, once known
    report: dict | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def to_json(self) -> dict:
        return asdict(self)


class CountingEmbedder:
    """The served embedder, counting the passages a build embeds (for the progress bar)."""

    def __init__(self, embedder, job: Job):
        self.embedder, self.job, self.name = embedder, job, embedder.name

    def embed_passages(self, texts):
        vectors = self.embedder.embed_passages(texts)
        self.job.embedded += len(texts)
        return vectors

    def embed_queries(self, texts):
        return self.embedder.embed_queries(texts)


class DocumentDesk:
    def __init__(self, assistant, settings: Settings):
        self.assistant = assistant
        self.settings = settings
        self.uploads = settings.uploads_path
        self.max_bytes = int(settings.upload_max_mb * 1024 * 1024)
        self.jobs: dict[str, Job] = {}
        self.busy_wait_s = BUSY_WAIT_S
        self._work = threading.Lock()          # one build at a time in this process
        self._saving = threading.Lock()        # file names in the uploads folder
        self._ids = itertools.count(1)
        try:
            self.indexed_at(assistant.store.state())     # what was built before this process started
        except AssistantError:
            pass

    # -- reading --------------------------------------------------------------------------------
    def manifest(self) -> dict:
        state = self.assistant.store.state()
        return state.manifest if state else {}

    def indexed_at(self, state) -> dict[str, float]:
        """When each file content (SHA-256) was first seen indexed. The store does not keep it per
        document: this sidecar does; content indexed before it was first read gets that build's time."""
        path = self.settings.index_dir / INDEXED_AT
        with self._saving:
            try:
                known = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                known = {}
            live = {entry.get("sha256") for entry in state.manifest.values()} if state else set()
            fresh = {sha: state.built_at for sha in live if sha and sha not in known}
            if fresh or set(known) - live:
                known = {sha: when for sha, when in {**known, **fresh}.items() if sha in live}
                path.write_text(json.dumps(known), encoding="utf-8")
        return known

    def documents(self) -> list[dict]:
        """One row per indexed document: the table of the console and ``GET /api/documents``."""
        state = self.assistant.store.state()
        indexed_at = self.indexed_at(state)
        corpus = self.assistant.corpus(recheck=True)
        first = {}
        for item in corpus.items:
            first.setdefault(item.doc, item)
        rows = []
        for source, entry in (state.manifest if state else {}).items():
            item = first.get(entry["doc"])
            rows.append({"doc": entry["doc"], "title": entry.get("title") or (item.title if item else ""),
                         "issuer": item.office if item else "", "number": getattr(item, "number", "") or "",
                         "date": item.date if item else "", "year": entry.get("year"),
                         "status": getattr(item, "status", None), "items": entry.get("items", 0),
                         "source": self.shown_source(source), "uploaded": self._is_upload(Path(source)),
                         "sha256": entry.get("sha256"),
                         "indexed_at": _iso(indexed_at.get(entry.get("sha256")))})
        return sorted(rows, key=lambda row: (-(row["year"] or 0), row["title"]))

    def show(self, doc: str) -> dict:
        """What the indexer made of one document, in the shape of ``index show --json``."""
        corpus = self.assistant.corpus(recheck=True)
        items = [item for item in corpus.items if item.doc == doc]
        if not items:
            raise NotFound(f"no document {doc!r} in the index")
        source = next((key for key, entry in self.manifest().items() if entry["doc"] == doc), items[0].source)
        first = items[0]
        metadata = {"title": first.title, "issuer": first.office, "number": getattr(first, "number", "") or "",
                    "date": first.date, "year": first.year, "addressees": getattr(first, "addressees", None) or [],
                    "status": getattr(first, "status", None), "source": self.shown_source(source)}
        set_aside, attachments, warnings = [], [], []
        try:                       # the lines set aside are not stored with the items: read the file again
            document = load_document(Path(source))
            set_aside = list(document.dropped)
            attachments = list(getattr(document, "attachments", []) or [])
            warnings = list(getattr(document, "warnings", []) or [])
            for attribute in ("number", "addressees"):
                if getattr(document, attribute, None) and not metadata[attribute]:
                    metadata[attribute] = getattr(document, attribute)
        except AssistantError as exc:
            warnings.append(f"the source file cannot be read again: {exc.message}")
        except OSError as exc:
            warnings.append(f"the source file cannot be read again: {exc.strerror or exc}")
        warnings += numbering_warnings(items)
        return {"doc": doc, "metadata": metadata, "set_aside": set_aside, "attachments": attachments,
                "items": [{"item": item.item, "path": list(item.path), "section": item.section, "text": item.text,
                           "url": doc_link(doc, item.path)} for item in items],
                "warnings": warnings}

    def shown_source(self, source: str) -> str:
        """The file name relative to the uploads folder or the bundled corpus, never an absolute server path."""
        path = Path(source)
        for base in (self.uploads, Path(__file__).resolve().parents[1] / "index" / "corpus"):
            try:
                return str(path.resolve().relative_to(Path(base).resolve()))
            except ValueError:
                continue
        return path.name

    # -- uploads --------------------------------------------------------------------------------
    def check_upload(self, files: list[tuple[str, bytes]]) -> list[tuple[str, bytes, str]]:
        """Every file of a batch checked before anything is written; BadInput (413/409/422) otherwise."""
        if not files:
            raise BadInput("no file given: send one or more multipart parts named 'file'")
        known = {entry.get("sha256"): entry["doc"] for entry in self.manifest().values()}
        seen: dict[str, str] = {}
        checked = []
        for name, data in files:
            name = safe_name(name)
            if len(data) > self.max_bytes:
                raise TooLarge(f"{name}: {len(data)} bytes is over the upload limit of {self.max_bytes} bytes")
            suffix = Path(name).suffix.lower()
            if suffix not in SUPPORTED_SUFFIXES:
                raise BadInput(f"{name}: unsupported file type ({suffix or 'no suffix'}); "
                               f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}")
            if not data.strip():
                raise BadInput(f"{name}: the file is empty")
            if suffix == ".docx":
                check_zip(name, data, self.max_bytes)
            digest = hashlib.sha256(data).hexdigest()
            if digest in known:
                raise Duplicate(f"{name}: the same file is already indexed as document {known[digest]!r}")
            if digest in seen:
                raise Duplicate(f"{name}: the same file as {seen[digest]} in this upload")
            seen[digest] = name
            checked.append((name, data, digest))
        return checked

    def upload(self, files: list[tuple[str, bytes]], wait: bool = False) -> Job:
        """Check, save and index a batch in the background (or before returning, with ``wait``)."""
        checked = self.check_upload(files)
        saved = [self._save(name, data) for name, data, _ in checked]
        job = self._new_job([path.name for path in saved], "upload")

        def work():
            try:
                return self._index(job, saved)
            except BaseException:
                for path in saved:              # a failed job leaves nothing behind
                    path.unlink(missing_ok=True)
                raise
        return self._run(job, work, wait)

    def reindex(self, doc: str, wait: bool = False) -> Job:
        source = self._source_of(doc)
        job = self._new_job([Path(source).name], "reindex")

        def work():
            remove_documents([doc], self.settings, self.assistant.store)
            self.indexed_at(self.assistant.store.state())      # its content counts as indexed anew
            return self._index(job, [Path(source)], removed=[doc], cleanup=False)
        return self._run(job, work, wait)

    def delete(self, doc: str) -> dict:
        """Remove one document from the index now (refused while a job runs); its uploaded file is deleted."""
        source = Path(self._source_of(doc))
        if not self._work.acquire(blocking=False):
            raise IndexBusy("documents are being indexed right now; delete again when that job has finished")
        try:
            report = remove_documents([doc], self.settings, self.assistant.store)
            kept_file = not self._is_upload(source)
            if not kept_file:
                source.unlink(missing_ok=True)
            self.assistant.corpus(recheck=True)
        finally:
            self._work.release()
        return {"deleted": doc, "report": report_json(report),
                "note": (f"the file {self.shown_source(str(source))} is outside the uploads folder and was kept: "
                         "building that folder again brings the document back") if kept_file else None}

    # -- internals ------------------------------------------------------------------------------
    def _index(self, job: Job, saved: list[Path], removed: list[str] = (), cleanup: bool = True) -> dict:
        sources = [Path(key) for key in self.manifest()]
        missing = [str(path) for path in sources if not path.exists()]
        if missing:
            for path in saved if cleanup else []:
                path.unlink(missing_ok=True)
            raise BadInput("the index holds documents whose files are gone ("
                           + ", ".join(self.shown_source(m) for m in missing)
                           + "); delete those documents first, so that this build does not drop them")
        deadline = time.monotonic() + self.busy_wait_s
        while True:
            job.phase = "reading, cutting into items and embedding"
            try:
                report = build_index(sources + saved, self.settings, CountingEmbedder(self.assistant.embedder, job),
                                     self.assistant.store, progress=False)
                break
            except IndexBusy:                   # a build by another process: wait for it, then refuse clearly
                if time.monotonic() > deadline:
                    raise
                job.phase = "waiting for another build of this index to finish"
                time.sleep(0.5)
        failed = {Path(path).resolve() for path, _ in report.failed}
        for path in saved if cleanup else []:
            if path.resolve() in failed:       # nothing kept of a file that did not parse
                path.unlink(missing_ok=True)
        job.phase = "published"
        self.assistant.corpus(recheck=True)
        self.indexed_at(self.assistant.store.state())
        out = report_json(report)
        out["removed"] = [doc for doc in out["removed"] if doc not in removed]
        return out

    def _run(self, job: Job, work, wait: bool) -> Job:
        def run():
            with self._work:
                job.status, job.phase = "running", "starting"
                try:
                    job.report = work()
                    job.status = "done"
                except AssistantError as exc:
                    job.status, job.error = "failed", exc.message
                except Exception as exc:  # noqa: BLE001 - a bug: the job says so, the server keeps running
                    job.status, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
                finally:
                    job.finished = time.time()
        if wait:
            run()
        else:
            threading.Thread(target=run, name=f"admin-{job.id}", daemon=True).start()
        return job

    def _new_job(self, files: list[str], kind: str) -> Job:
        job = Job(id=f"job-{next(self._ids)}", files=files, kind=kind)
        self.jobs[job.id] = job
        for old in list(self.jobs)[:-JOBS_KEPT]:
            del self.jobs[old]
        return job

    def _save(self, name: str, data: bytes) -> Path:
        self.uploads.mkdir(parents=True, exist_ok=True)
        with self._saving:                      # two admins sending the same name keep both files
            path, number = self.uploads / name, 2
            while path.exists():
                path, number = self.uploads / f"{Path(name).stem}-{number}{Path(name).suffix}", number + 1
            path.write_bytes(data)
        return path

    def _source_of(self, doc: str) -> str:
        for source, entry in self.manifest().items():
            if entry["doc"] == doc:
                return source
        raise NotFound(f"no document {doc!r} in the index")

    def _is_upload(self, path: Path) -> bool:
        try:
            path.resolve().relative_to(self.uploads.resolve())
            return True
        except ValueError:
            return False


class NotFound(BadInput):
    status = 404


def safe_name(name: str) -> str:
    """A plain file name, or BadInput: no folders, no '..', no hidden or control characters."""
    name = unicodedata.normalize("NFC", (name or "").strip())
    if not name:
        raise BadInput("a file part has no file name")
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".") or "\x00" in name:
        raise BadInput(f"refused file name {name!r}: give a plain file name, without folders or '..'")
    if any(unicodedata.category(ch).startswith("C") for ch in name) or len(name.encode("utf-8")) > 200:
        raise BadInput(f"refused file name {name!r}: control characters, or longer than 200 bytes")
    return name


def check_zip(name: str, data: bytes, limit: int) -> None:
    """A .docx is a zip: refuse one that is not a zip, or expands far beyond its size (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        raise BadInput(f"{name}: not a Word .docx file (it is not a zip archive)") from None
    expanded = sum(entry.file_size for entry in entries)
    if len(entries) > ZIP_MAX_ENTRIES or expanded > ZIP_MAX_RATIO * max(len(data), 100_000):
        raise TooLarge(f"{name}: refused as a zip bomb ({len(entries)} parts expanding to {expanded} bytes)")


def numbering_warnings(items) -> list[str]:
    """Numbers that go backwards among sibling items (a sign of a bad cut)."""
    warnings, last = [], {}
    for item in items:
        if not item.item.isascii() or not item.item.isdigit():
            continue
        parent = tuple(item.path[:-1])
        number = int(item.item)
        if parent in last and number <= last[parent]:
            warnings.append(f"numbering went backwards: {item.item} after {last[parent]} "
                            f"(under {' › '.join(parent) or 'the top level'})")
        last[parent] = number
    return warnings


def report_json(report) -> dict:
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "removed": report.removed, "failed": [{"file": Path(path).name, "reason": _short(reason)}
                                                  for path, reason in report.failed],
            "items": report.items, "embedded": report.embedded, "seconds": round(report.seconds, 2),
            "summary": report.summary() if hasattr(report, "summary") else ""}


def _short(reason: str) -> str:
    """A failure reason without the server's absolute path of the file."""
    return re.sub(r"(/[^\s:]+/)([^/\s:]+)", r"\2", reason)


def _iso(epoch: float | None) -> str | None:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds") if epoch else None
